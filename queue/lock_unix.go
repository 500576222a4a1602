//go:build unix

package queue

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

// lockContext takes an exclusive flock on f, waiting for it until ctx is
// done. A blocking flock cannot be interrupted (Go restarts it after a
// signal), so it polls: every millisecond at first, at most every 50ms.
func lockContext(ctx context.Context, f *os.File) error {
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		ok, err := tryLock(f)
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

// tryLock takes an exclusive flock on f if no other open file holds one,
// and says whether it did. flock locks belong to the open file: two opens
// exclude each other, in one process or two, and the kernel drops the
// lock when the last descriptor of the open file closes, as it does when
// the process dies.
func tryLock(f *os.File) (bool, error) {
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

func unlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
