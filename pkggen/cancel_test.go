package pkggen

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteContextCancelled: a done context stops WriteContext before it
// writes anything, and stops the compression of a tarball of many chunks
// (which takes seconds for a large template) before its end.
func TestWriteContextCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	parent := t.TempDir()
	if _, err := WriteContext(ctx, filepath.Join(parent, "out"), basicTree("synth", "", changelogTime), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("WriteContext with a done context: %v, want context.Canceled", err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("WriteContext with a done context left %v", ents)
	}
	noise := make([]byte, 8*xzChunk)
	rand.NewChaCha8([32]byte{}).Read(noise)
	if _, err := compressXZ(ctx, noise, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("compressXZ of %d chunks with a done context: %v, want context.Canceled", len(noise)/xzChunk, err)
	}
}
