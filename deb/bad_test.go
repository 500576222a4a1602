package deb

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/testutil"
)

// Where things are in fwupd-unsigned_1.4-1_amd64.deb (29000 bytes): ar
// headers at 0x8 (debian-binary), 0x48 (control.tar.xz, 848 bytes of data
// at 0x84) and 0x3d4 (data.tar.xz, 27960 bytes of data at 0x410).
const (
	fwupdControlHdr = 0x48
	fwupdDataHdr    = 0x3d4
	fwupdDataOff    = 0x410
	fwupdSize       = 29000
)

func TestBadInput(t *testing.T) {
	t.Parallel()
	fwupd, err := os.ReadFile(testutil.DebianFixture(t, "fwupd-unsigned_1.4-1_amd64.deb"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fwupd) != fwupdSize || string(fwupd[fwupdDataHdr:fwupdDataHdr+11]) != "data.tar.xz" {
		t.Fatal("fwupd-unsigned fixture is not the expected file")
	}
	elf, err := os.ReadFile(testutil.DebianFixture(t, "dummy.ko"))
	if err != nil {
		t.Fatal(err)
	}
	// edit returns fwupd with b written at off.
	edit := func(off int, b string) []byte {
		c := bytes.Clone(fwupd)
		copy(c[off:], b)
		return c
	}
	// sizeField returns fwupd with the size field of the header at hdr set.
	sizeField := func(hdr int, size string) []byte {
		return edit(hdr+fieldSize.off, (size + strings.Repeat(" ", fieldSize.len))[:fieldSize.len])
	}
	flip := func(from, n int) []byte {
		c := bytes.Clone(fwupd)
		for i := from; i < from+n; i++ {
			c[i] ^= 0x55
		}
		return c
	}
	control := controlTar(t, testControl)
	data := testDataTar(t)
	deb := func(members ...arMember) []byte { return buildAr(members...) }
	version := arMember{"debian-binary", []byte("2.0\n")}
	ctrl := arMember{"control.tar", control}
	dataTar := func(entries ...tarEntry) arMember { return arMember{"data.tar", buildTar(t, entries...)} }
	dir := tarEntry{name: "./", typ: tar.TypeDir, mode: 0o755}
	corruptTar := bytes.Clone(data)
	corruptTar[3*512+100] ^= 1 // inside the 4th header's name field: bad checksum

	const none = inputerr.NoOffset
	tests := []struct {
		name   string
		input  []byte
		want   string // substring of the message
		member string
		path   string
		offset int64
		is     error // a sentinel the error must match, if any
	}{
		{"text", []byte("this is not a Debian package\n"), `offset 0x0: not a Debian package: missing ar magic "!<arch>\n"`, "", "", 0, ErrNotDeb},
		{"PE file", append([]byte("MZ\x90\x00\x03"), make([]byte, 200)...), `missing ar magic`, "", "", 0, ErrNotDeb},
		{"ELF module", elf, `missing ar magic`, "", "", 0, ErrNotDeb},
		{"empty", nil, `offset 0x0: not a Debian package: empty file`, "", "", 0, ErrNotDeb},
		{"only magic", []byte(arMagic), `ar archive is empty`, "", "", 8, ErrNotDeb},
		{"ar library", deb(arMember{"/", []byte("x")}), `bad name field`, "", "", 8, nil},
		{"ar not deb", deb(arMember{"hello.o", []byte("x")}), `not a Debian package: first ar member is "hello.o"`, "hello.o", "", 8, ErrNotDeb},
		{"cut in magic", fwupd[:5], `truncated: the file ends at offset 0x5 inside the ar magic`, "", "", 0, nil},
		{"cut in header", fwupd[:fwupdControlHdr+30], `truncated: the file ends at offset 0x66 inside an ar member header`, "", "", fwupdControlHdr, nil},
		{"cut in control", fwupd[:0x84+100], `truncated: member claims 848 bytes but the file ends at offset 0xe8`, "control.tar.xz", "", fwupdControlHdr, nil},
		{"cut in data", fwupd[:fwupdSize-1000], `truncated: member claims 27960 bytes but the file ends at offset 0x6d60`, "data.tar.xz", "", fwupdDataHdr, nil},
		{"cut after control", fwupd[:fwupdDataHdr], `missing data.tar member`, "", "", fwupdDataHdr, nil},
		{"corrupt data.tar.xz", flip(fwupdDataOff+13000, 8), `data.tar.xz: usr/libexec/fwupd/efi/fwupdx64.efi: xz: data is`, "data.tar.xz", "usr/libexec/fwupd/efi/fwupdx64.efi", none, nil},
		{"corrupt control.tar.xz", flip(0x84+400, 8), `control.tar.xz: control: xz: data is`, "control.tar.xz", "control", none, nil},
		{"bad size field", sizeField(fwupdControlHdr, "12a"), `offset 0x48: ar member header: bad size field "12a"`, "", "", fwupdControlHdr, nil},
		{"negative size", sizeField(fwupdControlHdr, "-848"), `offset 0x48: ar member header: negative size field "-848"`, "", "", fwupdControlHdr, nil},
		{"blank size", sizeField(fwupdControlHdr, ""), `bad size field ""`, "", "", fwupdControlHdr, nil},
		{"size past end", sizeField(fwupdDataHdr, "999999999"), `data.tar.xz: offset 0x3d4: truncated: member claims 999999999 bytes but the file ends at offset 0x7148`, "data.tar.xz", "", fwupdDataHdr, nil},
		{"bad mode field", edit(fwupdControlHdr+fieldMode.off, "100899  "), `bad mode field "100899"`, "", "", fwupdControlHdr, nil},
		{"missing terminator", edit(fwupdControlHdr+fieldTerm.off, "\n\n"), "offset 0x48: ar member header: bad terminator \"\\n\\n\", want \"`\\n\"", "", "", fwupdControlHdr, nil},
		{"bad version", edit(0x44, "3.0\n"), `debian-binary: offset 0x44: unsupported package format version "3.0\n"`, "debian-binary", "", 0x44, nil},
		{"wrong order", deb(version, arMember{"data.tar", data}, ctrl), `data.tar: offset 0x48: member out of order: data.tar comes before control.tar`, "data.tar", "", 0x48, nil},
		{"two controls", deb(version, ctrl, ctrl), `duplicate control.tar member`, "control.tar", "", int64(0x84 + len(control)), nil},
		{"missing control", deb(version), `missing control.tar member`, "", "", 0x48, nil},
		{"missing data", deb(version, ctrl), `missing data.tar member`, "", "", int64(0x84 + len(control)), nil},
		{"unknown member", deb(version, arMember{"foo", nil}), `unexpected member "foo", want control.tar`, "foo", "", 0x48, nil},
		{"member after data", deb(version, ctrl, arMember{"data.tar", data}, arMember{"extra", nil}), `unexpected member "extra" after data.tar`, "extra", "", int64(0x84 + len(control) + 60 + len(data)), nil},
		{"unknown data compression", deb(version, ctrl, arMember{"data.tar.lz4", data}), `data.tar.lz4: offset 0x` /* then */, "data.tar.lz4", "", int64(0x84 + len(control)), nil},
		{"unknown control compression", deb(version, arMember{"control.tar.bz2", control}), `unknown compression suffix ".bz2" for control.tar`, "control.tar.bz2", "", 0x48, nil},
		{"compression mismatch", deb(version, arMember{"control.tar.gz", control}), `control.tar.gz: gzip: invalid header`, "control.tar.gz", "", none, nil},
		{"no control file", deb(version, arMember{"control.tar", buildTar(t, dir)}), `control.tar: no control file`, "control.tar", "", none, nil},
		{"bad control version", deb(version, arMember{"control.tar", controlTar(t, "Package: a1\nVersion: one\nArchitecture: all\n")}), `control.tar: control: Version: bad version "one"`, "control.tar", "control", none, nil},
		{"two paragraphs", deb(version, arMember{"control.tar", controlTar(t, testControl+"\nPackage: b\n")}), `more than one paragraph`, "control.tar", "control", none, nil},
		{"dotdot path", deb(version, ctrl, dataTar(dir, tarEntry{name: "./../etc/passwd", typ: tar.TypeReg, mode: 0o644, body: "x"})), `data.tar: ./../etc/passwd: unsafe path`, "data.tar", "./../etc/passwd", none, ErrUnsafePath},
		{"absolute path", deb(version, ctrl, dataTar(dir, tarEntry{name: "/etc/passwd", typ: tar.TypeReg, mode: 0o644, body: "x"})), `data.tar: /etc/passwd: unsafe path`, "data.tar", "/etc/passwd", none, ErrUnsafePath},
		{"inner dotdot", deb(version, ctrl, dataTar(dir, tarEntry{name: "usr/../../x", typ: tar.TypeDir, mode: 0o755})), `unsafe path`, "data.tar", "usr/../../x", none, ErrUnsafePath},
		{"hard link out", deb(version, ctrl, dataTar(dir, tarEntry{name: "./x", typ: tar.TypeLink, linkname: "../etc/shadow"})), `unsafe path: hard link to "../etc/shadow"`, "data.tar", "./x", none, ErrUnsafePath},
		{"unsafe control.tar path", deb(version, arMember{"control.tar", buildTar(t, tarEntry{name: "../control", typ: tar.TypeReg, body: testControl})}), `control.tar: ../control: unsafe path`, "control.tar", "../control", none, ErrUnsafePath},
		{"bad tar header", deb(version, ctrl, arMember{"data.tar", corruptTar}), `data.tar: offset 0x600: archive/tar: invalid tar header`, "data.tar", "", 0x600, nil},
		{"tar cut in body", deb(version, ctrl, arMember{"data.tar", data[:4*512+10]}), `data.tar: usr/bin/hello: tar archive is truncated`, "data.tar", "usr/bin/hello", none, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Once with the size known, once as a bare stream: the same error.
			for _, r := range []io.Reader{bytes.NewReader(tc.input), &onlyReader{bytes.NewReader(tc.input)}} {
				_, err := Read(r, "x.deb", func(_ *Package, _ *Entry, body io.Reader) error {
					_, err := io.Copy(io.Discard, body)
					return err
				})
				if err == nil {
					t.Fatalf("%T: Read: no error, want %q", r, tc.want)
				}
				t.Logf("%T: %v", r, err)
				if !strings.HasPrefix(err.Error(), "x.deb: ") || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%T: got error %q, want it to contain %q", r, err, tc.want)
				}
				var ie *inputerr.Error
				if !errors.As(err, &ie) {
					t.Fatalf("%T: error %q is %T, want *inputerr.Error", r, err, err)
				}
				if ie.File != "x.deb" || ie.Member != tc.member || ie.Path != tc.path || ie.Offset != tc.offset {
					t.Errorf("%T: got File %q Member %q Path %q Offset %#x; want %q %q %q %#x",
						r, ie.File, ie.Member, ie.Path, ie.Offset, "x.deb", tc.member, tc.path, tc.offset)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("%T: errors.Is(%q, %v) = false", r, err, tc.is)
				}
			}
		})
	}
}

// TestVisitErrors checks that visit's own errors come back unchanged, and
// that a body read failure is reported as bad input even when visit wraps it.
func TestVisitErrors(t *testing.T) {
	t.Parallel()
	mine := errors.New("my error")
	_, err := Read(bytes.NewReader(testDeb(t)), "t.deb", func(*Package, *Entry, io.Reader) error { return mine })
	if err != mine {
		t.Errorf("got %v, want visit's error unchanged", err)
	}

	fwupd, err := os.ReadFile(testutil.DebianFixture(t, "fwupd-unsigned_1.4-1_amd64.deb"))
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(fwupd)
	for i := fwupdDataOff + 13000; i < fwupdDataOff+13008; i++ {
		bad[i] ^= 0x55
	}
	_, err = Read(bytes.NewReader(bad), "f.deb", func(_ *Package, e *Entry, body io.Reader) error {
		if _, err := io.Copy(io.Discard, body); err != nil {
			return errors.Join(mine, err)
		}
		return nil
	})
	var ie *inputerr.Error
	if !errors.As(err, &ie) || ie.Member != "data.tar.xz" || ie.Path == "" || errors.Is(err, mine) {
		t.Errorf("got %v, want an *inputerr.Error for data.tar.xz naming the entry, without visit's error", err)
	}
}
