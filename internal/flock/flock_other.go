//go:build !unix

// Package flock takes and drops flock(2) locks, which this system does
// not have: every call fails with ErrUnsupported.
package flock

import (
	"context"
	"errors"
	"os"
)

// ErrUnsupported is every call's error where there is no flock.
var ErrUnsupported = errors.New("file locking (flock) is not supported on this system")

// Lock fails with ErrUnsupported.
func Lock(*os.File) error { return ErrUnsupported }

// LockContext fails with ErrUnsupported.
func LockContext(context.Context, *os.File) error { return ErrUnsupported }

// TryLock fails with ErrUnsupported.
func TryLock(*os.File) (bool, error) { return false, ErrUnsupported }

// Unlock fails with ErrUnsupported.
func Unlock(*os.File) error { return ErrUnsupported }
