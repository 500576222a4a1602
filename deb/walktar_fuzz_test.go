package deb

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"path"
	"path/filepath"
	"testing"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// FuzzWalkTar reads arbitrary bytes as a plain tar archive, as verify
// reads a source package's tarball once decompressed: no panic, every
// error an *inputerr.Error, no unsafe path, bodies as long as Size says,
// and on success the entries archive/tar itself sees.
func FuzzWalkTar(f *testing.F) {
	f.Add(testDataTar(f))
	f.Add(controlTar(f, testControl))
	f.Add(buildTar(f, tarEntry{name: "../etc/passwd", typ: tar.TypeReg, mode: 0o644, body: "x"}))
	f.Add(buildTar(f, tarEntry{name: "./a", typ: tar.TypeLink, linkname: "/etc/shadow"}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var paths []string
		err := WalkTar(bytes.NewReader(data), func(e *Entry, body io.Reader) error {
			// The oracle is the standard library's, not cleanPath.
			if !filepath.IsLocal(e.Path) || path.Clean(e.Path) != e.Path {
				t.Fatalf("unsafe or unclean path %q got through", e.Path)
			}
			if e.Type == tar.TypeLink && !filepath.IsLocal(e.Linkname) {
				t.Fatalf("%s: hard link to unsafe %q got through", e.Path, e.Linkname)
			}
			n, err := io.Copy(io.Discard, body)
			if err == nil && n != e.Size {
				t.Fatalf("%s: body is %d bytes, Size says %d", e.Path, n, e.Size)
			}
			paths = append(paths, e.Path)
			return err
		})
		if err != nil {
			var ie *inputerr.Error
			if !errors.As(err, &ie) {
				t.Fatalf("error %q (%T) is not an *inputerr.Error", err, err)
			}
			return
		}
		// archive/tar agrees on the number of entries.
		tr := tar.NewReader(bytes.NewReader(data))
		n := 0
		for {
			if _, err := tr.Next(); err != nil {
				if err != io.EOF {
					t.Fatalf("WalkTar accepted what archive/tar rejects: %v", err)
				}
				break
			}
			n++
		}
		if n != len(paths) {
			t.Fatalf("WalkTar saw %d entries, archive/tar %d", len(paths), n)
		}
	})
}
