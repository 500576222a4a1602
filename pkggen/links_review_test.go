package pkggen

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Review 7: the exclude patterns that match on the path, not the base
// name ("debian/files", "*/*~"), are applied to the path as WriteTar
// applies them. Kills: excluded(ch.name) in Count.
func TestReview7CountPathPatterns(t *testing.T) {
	t.Parallel()
	when := time.Unix(1700000000, 0)
	tree := []Entry{
		{Name: "debian", Mode: fs.ModeDir | 0o755, ModTime: when},
		{Name: "debian/rules", Mode: 0o755, ModTime: when, Data: []byte("x")},
		{Name: "debian/files", Mode: fs.ModeSymlink | 0o777, ModTime: when, Data: []byte("rules")},
		{Name: "debian/a~", Mode: 0o644, ModTime: when, Data: []byte("x")},
		{Name: "debian/source", Mode: fs.ModeDir | 0o755, ModTime: when},
		{Name: "debian/source/local-options", Mode: 0o644, ModTime: when, Data: []byte("x")},
	}
	c, err := Count("pkg", tree)
	if err != nil {
		t.Fatal(err)
	}
	want := &Contents{Files: 1, Dirs: 3, Excluded: []string{"debian/a~", "debian/files", "debian/source/local-options"}}
	if d := cmp.Diff(want, c); d != "" {
		t.Errorf("Count (-want +got):\n%s", d)
	}
}

// A link is stored with mode 0777 whatever its Mode says. Kills: dropping
// h.mode = 0o777 in writeEntry.
func TestReview7LinkModeStored(t *testing.T) {
	t.Parallel()
	when := time.Unix(1700000000, 0)
	var buf bytes.Buffer
	if err := WriteTar(&buf, "pkg", []Entry{{Name: "l", Mode: fs.ModeSymlink | 0o755, ModTime: when, Data: []byte("x")}}, when); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no link in the tarball: %v", err)
		}
		if h.Typeflag == tar.TypeSymlink {
			if h.Mode != 0o777 {
				t.Errorf("link stored with mode %o, want 777", h.Mode)
			}
			return
		}
	}
}
