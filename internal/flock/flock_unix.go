//go:build unix

// Package flock takes and drops flock(2) locks. A flock belongs to the
// open file: two opens of one file exclude each other, in one process or
// two, and the kernel drops the lock when the last descriptor of the
// open file closes, as it does when the process dies, however it dies.
package flock

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

// Lock takes an exclusive flock on f, waiting for it.
func Lock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}

// LockContext is Lock that gives up with ctx's error when ctx is done
// first. A blocking flock cannot be interrupted (Go restarts it after a
// signal), so it polls: at first every millisecond, then less often, at
// most every 100ms.
func LockContext(ctx context.Context, f *os.File) error {
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		ok, err := TryLock(f)
		if ok || err != nil {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// TryLock takes an exclusive flock on f if no other open file holds one,
// and says whether it did.
func TryLock(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case !errors.Is(err, syscall.EINTR):
			return false, err
		}
	}
}

// Unlock drops f's flock.
func Unlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
