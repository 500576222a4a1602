//go:build unix

package audit

import (
	"context"
	"os"
	"syscall"
	"time"
)

// lock takes an exclusive flock on f, waiting for it. flock locks belong
// to the open file: two Opens of a log exclude each other, in one
// process or two.
func lock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}

// lockContext is lock that gives up with ctx's error when ctx is done
// first. A blocking flock cannot be interrupted (Go restarts it after a
// signal), so it polls: at first every millisecond, then less often, at
// most every 100ms.
func lockContext(ctx context.Context, f *os.File) error {
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
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

func unlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
