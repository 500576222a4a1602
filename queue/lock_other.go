//go:build !unix

package queue

import (
	"context"
	"errors"
	"os"
)

var errNoLock = errors.New("file locking (flock) is not supported on this system")

func lockContext(context.Context, *os.File) error { return errNoLock }
func tryLock(*os.File) (bool, error)              { return false, errNoLock }
func unlock(*os.File) error                       { return errNoLock }
