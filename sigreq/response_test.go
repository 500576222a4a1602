package sigreq

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/testutil"
)

var when = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// longPath is a signature path of more than tar's 100-byte name field.
var longPath = "linux-image-6.1.0-57-amd64-unsigned/lib/modules/6.1.0-57-amd64/kernel/drivers/net/ethernet/mellanox/mlx5/core/" +
	strings.Repeat("x", 120) + ".ko.sig"

func goodSignatures() []Signature {
	return []Signature{
		{Path: "shim-unsigned/usr/lib/shim/mmx64.efi.sig", Data: []byte("mm signature")},
		{Path: "fwupd-unsigned/usr/libexec/fwupd/efi/fwupdx64.efi.sig", Data: bytes.Repeat([]byte{0x30, 0x82}, 700)},
		{Path: longPath, Data: []byte{0}},
		{Path: "shim-unsigned/usr/lib/shim/fbx64.efi.sig", Data: []byte("fb signature")},
	}
}

func writeResponse(t *testing.T, sigs []Signature) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteResponse(&b, when, sigs); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestWriteResponse: the same signatures in any order give the same
// bytes (pinned in a golden file); every header is the fixed one; and
// ReadResponse gives the signatures back.
func TestWriteResponse(t *testing.T) {
	t.Parallel()
	sigs := goodSignatures()
	orig := goodSignatures()
	out := writeResponse(t, sigs)
	if d := cmp.Diff(orig, sigs); d != "" {
		t.Errorf("WriteResponse changed its input (-before +after):\n%s", d)
	}
	reversed := goodSignatures()
	for i, j := 0, len(reversed)-1; i < j; i, j = i+1, j-1 {
		reversed[i], reversed[j] = reversed[j], reversed[i]
	}
	if !bytes.Equal(out, writeResponse(t, reversed)) {
		t.Error("the same signatures in another order give other bytes")
	}
	testutil.Golden(t, "response.tar", out)

	tr := tar.NewReader(bytes.NewReader(out))
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		want := tar.Header{Typeflag: tar.TypeReg, Name: hdr.Name, Size: hdr.Size, Mode: 0o644, Uname: "root", Gname: "root",
			ModTime: when, Format: tar.FormatGNU}
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{} // GNU format has room for them; they are zero
		if d := cmp.Diff(want, *hdr); d != "" {
			t.Errorf("header of %s (-want +got):\n%s", hdr.Name, d)
		}
	}
	wantNames := []string{
		"fwupd-unsigned/usr/libexec/fwupd/efi/fwupdx64.efi.sig", longPath,
		"shim-unsigned/usr/lib/shim/fbx64.efi.sig", "shim-unsigned/usr/lib/shim/mmx64.efi.sig",
	}
	if d := cmp.Diff(wantNames, names); d != "" {
		t.Errorf("entries (-want +got):\n%s", d)
	}

	got, err := ReadResponse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for _, s := range orig {
		want[s.Path] = s.Data
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ReadResponse(WriteResponse()) (-want +got):\n%s", d)
	}
}

// TestResponseGNUTar: GNU tar lists what WriteResponse writes as root's
// regular files, and ReadResponse reads what GNU tar makes of a
// --signatures directory (with its padding to a 10 KiB record).
func TestResponseGNUTar(t *testing.T) {
	t.Parallel()
	gnuTar := testutil.RequireTool(t, "tar")
	dir := t.TempDir()
	resp := filepath.Join(dir, "resp.tar")
	if err := os.WriteFile(resp, writeResponse(t, goodSignatures()), 0o644); err != nil {
		t.Fatal(err)
	}
	list := string(testutil.Run(t, dir, gnuTar, "--list", "--verbose", "--utc", "--file", resp))
	for _, want := range []string{"-rw-r--r-- root/root", "2026-11-28 12:00 " + longPath} {
		if !strings.Contains(list, want) {
			t.Errorf("tar --list does not show %q:\n%s", want, list)
		}
	}

	sigs := filepath.Join(dir, "sigs")
	var names []string
	for _, s := range goodSignatures() {
		p := filepath.Join(sigs, s.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, s.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, s.Path)
	}
	theirs := filepath.Join(dir, "theirs.tar")
	testutil.Run(t, sigs, gnuTar, append([]string{"--create", "--format=gnu", "--file", theirs}, names...)...)
	f, err := os.Open(theirs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ReadResponse(f)
	if err != nil {
		t.Fatalf("ReadResponse(GNU tar's archive): %v", err)
	}
	if len(got) != len(names) {
		t.Errorf("ReadResponse(GNU tar's archive) gave %d signatures, want %d", len(got), len(names))
	}
}

// TestWriteResponseRefuses: nothing is written for bad signatures.
func TestWriteResponseRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		when time.Time
		sig  Signature
		want string
	}{
		{"no time", time.Time{}, Signature{"p1/a.sig", []byte("x")}, "no modification time"},
		{"dotdot", when, Signature{"p1/../a.sig", []byte("x")}, `contains ".."`},
		{"absolute", when, Signature{"/p1/a.sig", []byte("x")}, "is absolute"},
		{"not .sig", when, Signature{"p1/a.efi", []byte("x")}, "not the name of a signature"},
		{"no package", when, Signature{"a.sig", []byte("x")}, "does not start with a package name"},
		{"twice", when, Signature{"shim-unsigned/usr/lib/shim/fbx64.efi.sig", []byte("x")}, "two signatures for one path"},
		{"empty", when, Signature{"p1/a.sig", nil}, "a signature of 0 bytes"},
		{"too large", when, Signature{"p1/a.sig", make([]byte, MaxSignatureSize+1)}, "a signature of 1048577 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			err := WriteResponse(&b, c.when, append(goodSignatures(), c.sig))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("WriteResponse: error %v, want one saying %q", err, c.want)
			}
			if b.Len() != 0 {
				t.Errorf("WriteResponse wrote %d bytes before refusing", b.Len())
			}
		})
	}
}

// entry is a tar entry for rawTar.
type entry struct {
	name     string
	typ      byte
	data     string
	size     int64 // if not 0, the header's size in place of len(data)
	linkname string
}

// rawTar writes entries with archive/tar, which checks nothing of what
// ReadResponse checks.
func rawTar(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		size := int64(len(e.data))
		if e.size != 0 {
			size = e.size
		}
		if e.typ != tar.TypeReg {
			size = 0
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: e.typ, Name: e.name, Linkname: e.linkname, Size: size, Mode: 0o644, ModTime: when, Format: tar.FormatGNU}); err != nil {
			t.Fatal(err)
		}
		if size > int64(len(e.data)) {
			e.data += strings.Repeat("\x00", int(size)-len(e.data))
		}
		if _, err := tw.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestReadResponseRefuses(t *testing.T) {
	t.Parallel()
	reg := func(name, data string) entry { return entry{name: name, typ: tar.TypeReg, data: data} }
	a, b := reg("p1/usr/lib/a.efi.sig", "sig a"), reg("p1/usr/lib/b.efi.sig", "sig b")
	good := rawTar(t, a, b)
	if _, err := ReadResponse(bytes.NewReader(good)); err != nil {
		t.Fatalf("ReadResponse(good): %v", err)
	}
	// Offsets of headers: a's at 0, b's at 1024 (a's header and one block
	// of data).
	for _, c := range []struct {
		name   string
		in     []byte
		path   string // the entry the error names
		offset int64
		want   string
	}{
		{"duplicate", rawTar(t, a, b, reg(a.name, "again")), a.name, 2048, "given twice"},
		{"dotdot", rawTar(t, a, reg("p1/../../etc/x.sig", "x")), "p1/../../etc/x.sig", 1024, `contains ".."`},
		{"absolute", rawTar(t, reg("/p1/a.sig", "x")), "/p1/a.sig", 0, "is absolute"},
		{"dot slash", rawTar(t, reg("./p1/a.sig", "x")), "./p1/a.sig", 0, "not a clean path"},
		{"symlink", rawTar(t, a, entry{name: "p1/c.sig", typ: tar.TypeSymlink, linkname: "/etc/shadow"}), "p1/c.sig", 1024, "a symbolic link, but a response holds only regular files"},
		{"hard link", rawTar(t, a, entry{name: "p1/c.sig", typ: tar.TypeLink, linkname: a.name}), "p1/c.sig", 1024, "a hard link"},
		{"directory", rawTar(t, entry{name: "p1/", typ: tar.TypeDir}, a), "p1/", 0, "a directory"},
		{"FIFO", rawTar(t, entry{name: "p1/f.sig", typ: tar.TypeFifo}), "p1/f.sig", 0, "a FIFO"},
		{"oversize", rawTar(t, a, entry{name: "p1/big.sig", typ: tar.TypeReg, size: MaxSignatureSize + 1}), "p1/big.sig", 1024, "a signature of 1048577 bytes"},
		{"empty entry", rawTar(t, reg("p1/e.sig", "")), "p1/e.sig", 0, "a signature of 0 bytes"},
		{"not .sig", rawTar(t, a, reg("p1/usr/lib/c.efi", "x")), "p1/usr/lib/c.efi", 1024, "not the name of a signature"},
		{"only .sig", rawTar(t, reg("p1/usr/.sig", "x")), "p1/usr/.sig", 0, "not the name of a signature"},
		{"no package", rawTar(t, reg("x.sig", "x")), "x.sig", 0, "does not start with a package name"},
		{"bad package", rawTar(t, reg("P1/x.sig", "x")), "P1/x.sig", 0, "does not start with a package name"},
		{"control character", rawTar(t, reg("p1/a\nb.sig", "x")), "p1/a\nb.sig", 0, "control character"},
		{"truncated data", good[:1536+2], b.name, 1024, "truncated"},
		{"truncated header", good[:1024+100], "", -1, "truncated"},
		{"no end blocks", good[:len(good)-1024], "", int64(len(good) - 1024), "no end-of-archive marker"},
		{"one end block", good[:len(good)-512], "", int64(len(good) - 512), "no end-of-archive marker"},
		{"data after the end", append(bytes.Clone(good), append(make([]byte, 100), 'x')...), "", int64(len(good) + 100), "data after the end"},
		{"empty input", nil, "", 0, "empty"},
		{"no signatures", make([]byte, 1024), "", 0, "holds no signatures"},
		{"not tar", []byte(strings.Repeat("this is no tar archive\n", 100)), "", -1, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sigs, err := ReadResponse(bytes.NewReader(c.in))
			if err == nil {
				t.Fatalf("ReadResponse accepted it: %d signatures", len(sigs))
			}
			var ie *inputerr.Error
			if !errors.As(err, &ie) {
				t.Fatalf("error %q (%T) is not an *inputerr.Error", err, err)
			}
			if ie.Path != c.path {
				t.Errorf("error %q names entry %q, want %q", err, ie.Path, c.path)
			}
			if c.offset >= 0 && ie.Offset != c.offset {
				t.Errorf("error %q at offset %d, want %d", err, ie.Offset, c.offset)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
}

// TestReadResponseBounds: the count of signatures and the bytes read are
// bounded (here with small bounds; the real ones are constants).
func TestReadResponseBounds(t *testing.T) {
	t.Parallel()
	three := rawTar(t, entry{name: "p1/a.sig", typ: tar.TypeReg, data: "a"}, entry{name: "p1/b.sig", typ: tar.TypeReg, data: "b"},
		entry{name: "p1/c.sig", typ: tar.TypeReg, data: "c"})
	if _, err := readResponse(bytes.NewReader(three), 3, int64(len(three))); err != nil {
		t.Errorf("3 signatures, at most 3, in %d bytes: %v", len(three), err)
	}
	_, err := readResponse(bytes.NewReader(three), 2, MaxResponseSize)
	if err == nil || err.Error() != "p1/c.sig: offset 0x800: more than 2 signatures" {
		t.Errorf("3 signatures, at most 2: error %v", err)
	}
	_, err = readResponse(bytes.NewReader(three), 3, int64(len(three))-1)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("%d bytes, at most one less: error %v", len(three), err)
	}
	// Zeros after the end (tar programs pad to a record) are taken, up to
	// a bound.
	padded := append(bytes.Clone(three), make([]byte, 10240)...)
	if _, err := ReadResponse(bytes.NewReader(padded)); err != nil {
		t.Errorf("with 10 KiB of zeros after the end: %v", err)
	}
	_, err = ReadResponse(io.MultiReader(bytes.NewReader(three), &zeros{}))
	if err == nil || !strings.Contains(err.Error(), "data after the end") {
		t.Errorf("endless zeros after the end: error %v", err)
	}
}

// zeros is an endless stream of zeros.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
