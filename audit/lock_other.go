//go:build !unix

package audit

import (
	"errors"
	"os"
)

var errNoLock = errors.New("file locking (flock) is not supported on this system")

func lock(*os.File) error   { return errNoLock }
func unlock(*os.File) error { return errNoLock }
