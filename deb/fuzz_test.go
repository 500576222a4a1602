package deb

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/testutil"
)

// checkReadError fails unless err, from Read of a file named name with
// fuzzVisit, is nil or an *inputerr.Error naming the file.
func checkReadError(t *testing.T, err error, name string) {
	t.Helper()
	if err == nil {
		return
	}
	var ie *inputerr.Error
	if !errors.As(err, &ie) || ie.File != name {
		t.Fatalf("error %q (%T) is not an *inputerr.Error for %s", err, err, name)
	}
}

func fuzzVisit(_ *Package, e *Entry, body io.Reader) error {
	if !filepath.IsLocal(e.Path) || path.Clean(e.Path) != e.Path {
		panic("unsafe or unclean path " + e.Path + " got through")
	}
	n, err := io.Copy(io.Discard, body)
	if err == nil && n != e.Size {
		panic("body length differs from Size")
	}
	return err
}

// FuzzRead reads arbitrary bytes as a .deb, both with the size known and as
// a stream. The real fixtures make slow seeds: run it with
// -fuzzminimizetime 2s, or the workers spend minutes minimizing each new
// input and report 0 execs/sec.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"fwupd-unsigned_1.4-1_amd64.deb", "fwupd-amd64-signed-template_1.4-1_amd64.deb"} {
		b, err := os.ReadFile(testutil.DebianFixture(f, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(testDeb(f))
	f.Add(buildAr(
		arMember{"debian-binary", []byte("2.0\n")},
		arMember{"_x", []byte("1")},
		arMember{"control.tar.gz", gzipBytes(f, controlTar(f, testControl))},
		arMember{"data.tar.gz", gzipBytes(f, testDataTar(f))},
	))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err1 := Read(bytes.NewReader(data), "f.deb", fuzzVisit)
		checkReadError(t, err1, "f.deb")
		_, err2 := Read(&onlyReader{bytes.NewReader(data)}, "f.deb", fuzzVisit)
		checkReadError(t, err2, "f.deb")
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("sized and streamed reads disagree: %v / %v", err1, err2)
		}
	})
}

// FuzzArHeader fuzzes the fields of the control member's ar header, not
// just raw bytes: a number's syntax is what breaks other ar readers.
func FuzzArHeader(f *testing.F) {
	ctrl := controlTar(f, testControl)
	f.Add("control.tar", "0", "0", "0", "100644", "10240", "`\n")
	f.Add("control.tar/", "1674832557", "", "", "644", "10240", "`\n")
	f.Add("control.tar", "0", "0", "0", "100644", "-1", "`\n")
	f.Add("control.tar", "0", "0", "0", "100644", " 10240", "`\n")
	f.Add("control.tar", "0", "0", "0", "1006a4", "99999999999", "\n`")
	f.Add("data.tar", "0", "0", "0", "100644", "1e3", "`\n")
	f.Fuzz(func(t *testing.T, name, mtime, uid, gid, mode, size, term string) {
		hdr := arHeaderBytes(name, mtime, uid, gid, mode, size)
		copy(fieldTerm.bytes(hdr), term)

		h, err := parseArHeader(hdr)
		if err == nil {
			// What parsed must be well formed, and formatting it again must
			// give the same header.
			if h.Size < 0 || h.MTime < 0 || h.UID < 0 || h.GID < 0 || h.Mode < 0 {
				t.Fatalf("negative field in %+v from %q", h, hdr)
			}
			if h.Name == "" || strings.ContainsAny(h.Name, " /") {
				t.Fatalf("bad name %q from %q", h.Name, hdr)
			}
			again := arHeaderBytes(h.Name,
				strconv.FormatInt(h.MTime, 10), strconv.FormatInt(h.UID, 10), strconv.FormatInt(h.GID, 10),
				strconv.FormatInt(h.Mode, 8), strconv.FormatInt(h.Size, 10))
			h2, err := parseArHeader(again)
			if err != nil || h2 != h {
				t.Fatalf("round trip of %+v: got %+v, %v", h, h2, err)
			}
		}

		var b bytes.Buffer
		b.WriteString(arMagic)
		b.Write(arHeaderBytes("debian-binary", "0", "0", "0", "100644", "4"))
		b.WriteString("2.0\n")
		b.Write(hdr)
		b.Write(ctrl)
		b.Write(buildAr(arMember{"data.tar", testDataTar(t)})[len(arMagic):])
		_, err1 := Read(bytes.NewReader(b.Bytes()), "h.deb", fuzzVisit)
		checkReadError(t, err1, "h.deb")
		_, err2 := Read(&onlyReader{bytes.NewReader(b.Bytes())}, "h.deb", fuzzVisit)
		checkReadError(t, err2, "h.deb")
		if err == nil && h.Name == "control.tar" && h.Size == int64(len(ctrl)) && (err1 != nil || err2 != nil) {
			t.Fatalf("valid header %q: Read failed: %v / %v", hdr, err1, err2)
		}
	})
}

func TestParseArHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                         string
		fname, mtime, uid, gid, mode string
		size                         string
		want                         arHeader
		wantErr                      string
	}{
		{name: "dpkg-deb", fname: "debian-binary", mtime: "1674832557", uid: "0", gid: "0", mode: "100644", size: "4",
			want: arHeader{Name: "debian-binary", MTime: 1674832557, Mode: 0o100644, Size: 4}},
		{name: "GNU slash", fname: "data.tar.xz/", size: "10", want: arHeader{Name: "data.tar.xz", Size: 10}},
		{name: "leading spaces", fname: "a", size: "  12", want: arHeader{Name: "a", Size: 12}},
		{name: "max size", fname: "a", size: "9999999999", want: arHeader{Name: "a", Size: 9999999999}},
		{name: "blank name", fname: "", size: "1", wantErr: "bad name field"},
		{name: "long-name table", fname: "//", size: "1", wantErr: "bad name field"},
		{name: "GNU long name ref", fname: "/12", size: "1", wantErr: "bad name field"},
		{name: "space inside name", fname: "a b", size: "1", wantErr: "bad name field"},
		{name: "space inside size", fname: "a", size: "1 2", wantErr: `bad size field "1 2"`},
		{name: "plus size", fname: "a", size: "+12", wantErr: `bad size field "+12"`},
		{name: "hex size", fname: "a", size: "0x10", wantErr: `bad size field "0x10"`},
		{name: "negative", fname: "a", size: "-0", wantErr: `negative size field "-0"`},
		{name: "bad uid", fname: "a", uid: "-1", size: "1", wantErr: `bad uid field "-1"`},
		{name: "octal 8 in mode", fname: "a", mode: "100648", size: "1", wantErr: `bad mode field "100648"`},
		{name: "bad mtime", fname: "a", mtime: "2023-01-01", size: "1", wantErr: `bad mtime field "2023-01-01"`},
	}
	for _, tc := range tests {
		got, err := parseArHeader(arHeaderBytes(tc.fname, tc.mtime, tc.uid, tc.gid, tc.mode, tc.size))
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: got error %v, want %q", tc.name, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr == "" && got != tc.want:
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
