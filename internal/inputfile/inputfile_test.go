package inputfile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bounded runs f, failing the test if it has not returned within ten
// seconds (opening a FIFO without O_NONBLOCK never returns).
func bounded(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("still blocked after 10s")
	}
}

// newFIFO makes a FIFO in a new directory.
func newFIFO(t *testing.T) (dir, fifo string) {
	t.Helper()
	dir = t.TempDir()
	fifo = filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, fifo
}

func TestOpen(t *testing.T) {
	t.Parallel()
	dir, fifo := newFIFO(t)
	regular := filepath.Join(dir, "file")
	if err := os.WriteFile(regular, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, kind string // kind "" means it opens
	}{
		{regular, ""},
		{fifo, "a named pipe (FIFO)"},
		{dir, "a directory"},
		{"/dev/null", "a character device"},
	} {
		bounded(t, func() {
			f, err := Open(c.name)
			if c.kind == "" {
				if err != nil {
					t.Errorf("Open(%s): %v", c.name, err)
				} else {
					f.Close()
				}
				return
			}
			if f != nil {
				f.Close()
			}
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), c.name) || !strings.Contains(err.Error(), c.kind) {
				t.Errorf("Open(%s) = %v; want ErrNotRegular naming the file and %q", c.name, err, c.kind)
			}
		})
	}
	bounded(t, func() {
		if _, err := ReadFile(context.Background(), fifo); !errors.Is(err, ErrNotRegular) {
			t.Errorf("ReadFile(FIFO) = %v, want ErrNotRegular", err)
		}
		if b, err := ReadFile(context.Background(), regular); err != nil || string(b) != "data" {
			t.Errorf("ReadFile(%s) = %q, %v", regular, b, err)
		}
	})
}

func TestOpenRoot(t *testing.T) {
	t.Parallel()
	dir, fifo := newFIFO(t)
	bounded(t, func() {
		if r, err := OpenRoot(fifo); err == nil || !strings.Contains(err.Error(), "a named pipe (FIFO)") {
			t.Errorf("OpenRoot(FIFO) = %v, %v; want an error naming it a FIFO", r, err)
		}
		root, err := OpenRoot(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		if _, err := OpenInRoot(root, "fifo"); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), fifo) {
			t.Errorf("OpenInRoot(FIFO) = %v; want ErrNotRegular naming %s", err, fifo)
		}
	})
}

// TestReadFileCancelled: a done context stops ReadFile and NewReader's
// reads with its error.
func TestReadFileCancelled(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(p, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadFile(ctx, p); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadFile with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := io.ReadAll(NewReader(ctx, bytes.NewReader([]byte("data")))); !errors.Is(err, context.Canceled) {
		t.Errorf("reading NewReader with a cancelled context = %v, want context.Canceled", err)
	}
	if b, err := io.ReadAll(NewReader(context.Background(), bytes.NewReader([]byte("data")))); err != nil || string(b) != "data" {
		t.Errorf("NewReader(Background) read %q, %v", b, err)
	}
}
