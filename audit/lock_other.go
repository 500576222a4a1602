//go:build !unix

package audit

import (
	"context"
	"errors"
	"os"
)

var errNoLock = errors.New("file locking (flock) is not supported on this system")

func lock(*os.File) error                         { return errNoLock }
func lockContext(context.Context, *os.File) error { return errNoLock }
func unlock(*os.File) error                       { return errNoLock }
