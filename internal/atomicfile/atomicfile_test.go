package atomicfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestWriteReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "req.json")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("new"), 0o666); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Fatalf("file holds %q, want %q", b, "new")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want the file only", len(ents))
	}
}

// A failed write leaves the old file and no temporary one.
func TestWriteFailureLeavesOld(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out")
	os.Mkdir(p, 0o755)
	if err := Write(p, []byte("x"), 0o666); err == nil {
		t.Fatal("writing over a directory succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("directory holds %d entries after a failed write, want 1", len(ents))
	}
}

// WriteExcl writes a new file, and leaves one already there (a file, a
// dangling link) as it was, with no temporary file left behind.
func TestWriteExcl(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "new.deb")
	if err := WriteExcl(p, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Fatalf("file holds %q, want %q", b, "new")
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&^0o022 != 0o644&^0o022 {
		t.Errorf("mode %v, %v; want 0644 less the umask", fi.Mode(), err)
	}
	if err := WriteExcl(p, []byte("again"), 0o644); !errors.Is(err, fs.ErrExist) {
		t.Errorf("WriteExcl over an existing file: %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("existing file now holds %q, want it left as %q", b, "new")
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("nowhere", link); err != nil {
		t.Fatal(err)
	}
	if err := WriteExcl(link, []byte("x"), 0o644); !errors.Is(err, fs.ErrExist) {
		t.Errorf("WriteExcl over a dangling link: %v, want fs.ErrExist", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nowhere")); err == nil {
		t.Errorf("WriteExcl wrote through a dangling link")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("directory holds %d entries, want the file and the link only", len(ents))
	}
}

// TestWriteExclRace: of writers racing for one new path, exactly one
// wins and the file holds its data whole; the others get fs.ErrExist
// though the path was free when they started.
func TestWriteExclRace(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "new.deb")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = WriteExcl(p, bytes.Repeat([]byte{byte('a' + i)}, 1<<20), 0o644)
		}()
	}
	close(start)
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("writers %d and %d both succeeded", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, fs.ErrExist):
			t.Errorf("writer %d: %v, want nil or fs.ErrExist", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no writer succeeded")
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, bytes.Repeat([]byte{byte('a' + won)}, 1<<20)) {
		t.Errorf("the file does not hold the winner's data")
	}
}
