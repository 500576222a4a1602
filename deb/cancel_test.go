package deb

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

const cancelControl = "Package: pkg\nVersion: 1\nArchitecture: amd64\n"

// TestReadContextStops: once the context is done, the next read fails
// with its error, in the middle of an entry's body that visit never
// reads (archive/tar skips it by reading); before, only the next entry
// could notice.
func TestReadContextStops(t *testing.T) {
	t.Parallel()
	data := testutil.Tar(t,
		testutil.TarEntry{Name: "./big", Type: tar.TypeReg, Mode: 0o644, Body: strings.Repeat("x", 1<<20)},
		testutil.TarEntry{Name: "./after", Type: tar.TypeReg, Mode: 0o644, Body: "y"})
	deb := testutil.Deb(t, cancelControl, data)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen []string
	_, err := ReadContext(ctx, bytes.NewReader(deb), "p.deb", func(_ *Package, e *Entry, _ io.Reader) error {
		seen = append(seen, e.Path)
		cancel() // as a signal would, while the body goes by unread
		return nil
	})
	if !errors.Is(err, context.Canceled) || len(seen) != 1 {
		t.Errorf("ReadContext cancelled at the first entry: %v, visited %q; want context.Canceled after %q only", err, seen, "big")
	}
	if _, err := ReadContext(ctx, bytes.NewReader(deb), "p.deb", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadContext with a done context: %v, want context.Canceled", err)
	}
	if _, err := Read(bytes.NewReader(deb), "p.deb", nil); err != nil {
		t.Errorf("Read: %v", err)
	}
}

// failAfter is a decompressed stream whose second read fails because the
// run is cancelled meanwhile, as the xz program's output does when the
// file it reads stops.
type failAfter struct {
	cancel func()
	r      io.Reader
	reads  int
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.reads++; f.reads == 2 {
		f.cancel() // the signal comes while this read is under way
		return 0, errors.New("xz: data is truncated")
	}
	return f.r.Read(p)
}

// TestWalkTarCancelledFailure: a stream that fails because the run was
// cancelled reports the cancellation, not damage.
func TestWalkTarCancelledFailure(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := testutil.Tar(t, testutil.TarEntry{Name: "./a", Type: tar.TypeReg, Mode: 0o644, Body: strings.Repeat("x", 4096)})
	_, err := walkTar(ctx, &failAfter{cancel: cancel, r: bytes.NewReader(data)}, nil)
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "truncated") {
		t.Errorf("walkTar over a stream failing after cancel: %v; want context.Canceled", err)
	}
}
