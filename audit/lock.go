package audit

import "github.com/mksigned/mksigned/internal/flock"

// The log's flock (see package flock): two Opens of a log exclude each
// other, in one process or two.
var (
	lock        = flock.Lock
	lockContext = flock.LockContext
	unlock      = flock.Unlock
)
