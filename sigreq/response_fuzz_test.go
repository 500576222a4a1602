package sigreq

import (
	"archive/tar"
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// FuzzReadResponse: ReadResponse never panics, fails with an
// *inputerr.Error, and what it accepts holds only well-named signatures
// of bounded size, which WriteResponse writes back to the same.
func FuzzReadResponse(f *testing.F) {
	var b bytes.Buffer
	if err := WriteResponse(&b, when, goodSignatures()); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add(b.Bytes()[:1536])
	f.Add(append(bytes.Clone(b.Bytes()), make([]byte, 10240)...))
	f.Add([]byte{})
	f.Add(make([]byte, 1024))
	f.Fuzz(func(t *testing.T, data []byte) {
		sigs, err := ReadResponse(bytes.NewReader(data))
		if err != nil {
			var ie *inputerr.Error
			if !errors.As(err, &ie) {
				t.Fatalf("error %q (%T) is not an *inputerr.Error", err, err)
			}
			return
		}
		var list []Signature
		for name, sig := range sigs {
			if err := checkEntryName(name); err != nil {
				t.Fatalf("accepted entry %q: %v", name, err)
			}
			if len(sig) < 1 || len(sig) > MaxSignatureSize {
				t.Fatalf("accepted entry %q of %d bytes", name, len(sig))
			}
			list = append(list, Signature{name, sig})
		}
		var out bytes.Buffer
		if err := WriteResponse(&out, when, list); err != nil {
			t.Fatalf("WriteResponse of what ReadResponse accepted: %v", err)
		}
		again, err := ReadResponse(&out)
		if err != nil {
			t.Fatalf("ReadResponse(WriteResponse(ReadResponse(data))): %v", err)
		}
		if d := cmp.Diff(sigs, again); d != "" {
			t.Fatalf("round trip changed the signatures (-first +second):\n%s", d)
		}
	})
}

// FuzzReadResponseHeaders fuzzes the header fields of a two-entry
// response, which raw bytes rarely reach past tar's checksum: the names,
// types and sizes ReadResponse checks. An entry is accepted exactly when
// its name is a clean <package>/<...>.sig, its type regular, and its size
// in bounds, and the names differ.
func FuzzReadResponseHeaders(f *testing.F) {
	f.Add("p1/a.efi.sig", byte(tar.TypeReg), int64(3), "p1/b.sig", byte(tar.TypeReg))
	f.Add("p1/../a.sig", byte(tar.TypeReg), int64(3), "p1/a.sig", byte(tar.TypeSymlink))
	f.Add("p1/a.sig", byte(tar.TypeDir), int64(0), "p1/a.sig", byte(tar.TypeReg))
	f.Add("p1/a.sig", byte(0), int64(2), "p1/b.sig", byte(0))
	f.Add("/p1/a.sig", byte(tar.TypeLink), int64(1<<20+1), "p1/"+strings.Repeat("d/", 80)+"x.sig", byte('S'))
	f.Fuzz(func(t *testing.T, name1 string, typ1 byte, size1 int64, name2 string, typ2 byte) {
		if size1 < 0 || size1 > MaxSignatureSize+1 {
			return
		}
		// archive/tar writes the old regular-file type NUL as '0'.
		for _, typ := range []*byte{&typ1, &typ2} {
			if *typ == 0 {
				*typ = tar.TypeReg
			}
		}
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, e := range []struct {
			name string
			typ  byte
			size int64
		}{{name1, typ1, size1}, {name2, typ2, 1}} {
			if e.typ != tar.TypeReg {
				e.size = 0
			}
			if tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: e.typ, Size: e.size, Mode: 0o644, Format: tar.FormatGNU}) != nil {
				return // archive/tar cannot write it
			}
			if _, err := tw.Write(make([]byte, e.size)); err != nil {
				return
			}
		}
		if tw.Close() != nil {
			return
		}
		sigs, err := ReadResponse(&b)
		var ie *inputerr.Error
		if err != nil && !errors.As(err, &ie) {
			t.Fatalf("error %q (%T) is not an *inputerr.Error", err, err)
		}
		ok := func(name string, typ byte, size int64) bool {
			return checkEntryName(name) == nil && typ == tar.TypeReg && size >= 1 && size <= MaxSignatureSize
		}
		want := ok(name1, typ1, size1) && ok(name2, typ2, 1) && name1 != name2
		if (err == nil) != want {
			t.Fatalf("entries %q (type %q, %d bytes) and %q (type %q): error %v, want accepted %v", name1, typ1, size1, name2, typ2, err, want)
		}
		if err == nil && len(sigs) != 2 {
			t.Fatalf("accepted %d signatures, want 2", len(sigs))
		}
	})
}
