//go:build unix

package audit

import (
	"os"
	"syscall"
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

func unlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
