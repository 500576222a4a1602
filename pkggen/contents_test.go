package pkggen

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestCount checks Count against the tarball WriteTar makes of the same
// tree: the same number of each kind of entry.
func TestCount(t *testing.T) {
	t.Parallel()
	when := time.Unix(1700000000, 0)
	tree := []Entry{
		{Name: "debian", Mode: fs.ModeDir | 0o755, ModTime: when},
		{Name: "debian/rules", Mode: 0o755, ModTime: when, Data: []byte("x")},
		{Name: "debian/m", Mode: fs.ModeDir | 0o755, ModTime: when},
		{Name: "debian/m/mips64", Mode: fs.ModeSymlink | 0o777, ModTime: when, Data: []byte("mips")},
		{Name: "debian/.git", Mode: fs.ModeDir | 0o755, ModTime: when},
		{Name: "debian/.git/config", Mode: 0o644, ModTime: when, Data: []byte("x")},
		{Name: "debian/x.o", Mode: fs.ModeSymlink | 0o777, ModTime: when, Data: []byte("rules")},
		{Name: "debian/sub/deep", Mode: 0o644, ModTime: when, Data: []byte("x")}, // implicit debian/sub
	}
	c, err := Count("pkg", tree)
	if err != nil {
		t.Fatal(err)
	}
	want := &Contents{Files: 2, Dirs: 4, Links: []Link{{"debian/m/mips64", "mips"}}, Excluded: []string{"debian/.git", "debian/x.o"}}
	if d := cmp.Diff(want, c); d != "" {
		t.Errorf("Count (-want +got):\n%s", d)
	}
	var buf bytes.Buffer
	if err := WriteTar(&buf, "pkg", tree, when); err != nil {
		t.Fatal(err)
	}
	got := map[byte]int{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Typeflag]++
	}
	if got[tar.TypeReg] != c.Files || got[tar.TypeDir] != c.Dirs || got[tar.TypeSymlink] != len(c.Links) {
		t.Errorf("tarball holds %d files, %d dirs, %d links; Count says %+v", got[tar.TypeReg], got[tar.TypeDir], got[tar.TypeSymlink], c)
	}
}

// TestExcluded: Excluded says what WriteTar leaves out, for the entry or
// any directory above it.
func TestExcluded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, pat string
	}{
		{"debian/signatures/p/usr/lib/x.efi.sig", ""},
		{"debian/signatures/p/usr/CVS/x.efi.sig", "CVS"},
		{"debian/signatures/p/.git/x.sig", ".git"},
		{"debian/signatures/p/usr/,,x.sig", ",,*"},
		{"debian/signatures/p/usr/.#x.sig", ".[#~]*"},
		{"debian/signatures/p/{arch}/x.sig", "{arch}"},
		{"debian/signatures/p/a/.deps/x.sig", ".deps"},
		{"debian/signatures/p/lib/x.so.sig", ""}, // *.so matches the whole name only
		{"debian/signatures/p/lib/x.so", "*.so"},
	} {
		pat, ok := Excluded("src", tc.name)
		if ok != (tc.pat != "") || pat != tc.pat {
			t.Errorf("Excluded(%q) = %q, %v; want %q", tc.name, pat, ok, tc.pat)
		}
		// WriteTar agrees.
		var buf bytes.Buffer
		tree := []Entry{{Name: tc.name, Mode: 0o644, ModTime: time.Unix(0, 0), Data: []byte("x")}}
		if err := WriteTar(&buf, "src", tree, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		if in := bytes.Contains(buf.Bytes(), []byte(baseName(tc.name))); in == ok {
			t.Errorf("%s: Excluded says %v, but WriteTar stores it: %v", tc.name, ok, in)
		}
	}
}
