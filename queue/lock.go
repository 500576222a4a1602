package queue

import "github.com/mksigned/mksigned/internal/flock"

// The state's and the jobs' flocks (see package flock).
var (
	lockContext = flock.LockContext
	tryLock     = flock.TryLock
	unlock      = flock.Unlock
)
