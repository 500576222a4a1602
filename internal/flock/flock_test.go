//go:build unix

package flock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Two opens of one file exclude each other; closing one drops its lock.
func TestTwoOpens(t *testing.T) {
	t.Parallel()
	name := filepath.Join(t.TempDir(), "lock")
	open := func() *os.File {
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	a, b := open(), open()
	if ok, err := TryLock(a); !ok || err != nil {
		t.Fatalf("TryLock of a free file: got %v, %v; want true", ok, err)
	}
	if ok, err := TryLock(b); ok || err != nil {
		t.Fatalf("TryLock of a held file: got %v, %v; want false", ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := LockContext(ctx, b); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LockContext of a held file: got %v, want the deadline's error", err)
	}
	a.Close() // as a process's death does
	if err := LockContext(context.Background(), b); err != nil {
		t.Fatalf("LockContext once the holder closed: %v", err)
	}
	if err := Unlock(b); err != nil {
		t.Fatal(err)
	}
	if ok, err := TryLock(open()); !ok || err != nil {
		t.Fatalf("TryLock after Unlock: got %v, %v; want true", ok, err)
	}
}
