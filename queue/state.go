// Package queue is mksigned process: the batch queue that signs each
// template version found in an incoming directory exactly once (issue 12
// §2). A pass lists the incoming directory, matches every
// *-signed-template package with the unsigned packages its Build-Depends
// pin, and runs what `mksigned generate` runs for each complete one that
// the State has not done yet.
//
// The State is an interface so that a PostgreSQL one (several hosts, each
// with its own HSM) can sit beside DirState, the embedded one for a single
// host; see dirstate.go for how exactly-once follows from it.
package queue

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Key names a job: one version of one template package, and the SHA-256
// of the .deb that carried it. The same Name and Version arriving again
// with other bytes is a new Key, refused as a conflict (Claim), never
// signed in silence.
type Key struct {
	Name    string `json:"template"` // the template package's Package field
	Version string `json:"version"`  // its Version field
	SHA256  string `json:"sha256"`   // of the template .deb, lower-case hex
}

func (k Key) String() string { return k.Name + " " + k.Version }

// Job states a Record can be in.
const (
	// StateClaimed: a process took the job and may be signing it now,
	// or died doing so (the next Claim finds out which).
	StateClaimed = "claimed"
	// StateDone: its output was committed and checked.
	StateDone = "done"
	// StateFailed: it failed; Reason says why. It is not tried again
	// unless asked (ClaimOptions.RetryFailed).
	StateFailed = "failed"
)

// Record is what the State holds about one job.
type Record struct {
	Key
	// Output is the directory the job writes, relative to the output
	// directory: <Source>_<version without epoch>. No two jobs may
	// have the same.
	Output string `json:"output"`
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// Attempts counts the claims: more than one means a run died (or
	// failed) holding it before.
	Attempts int `json:"attempts"`
	// By is who holds or last held the job: "host pid N".
	By      string    `json:"by"`
	Updated time.Time `json:"updated"`
	// Held, set by Records only, says that a live run holds a claimed
	// job (else the run that claimed it died, and the next one resumes
	// it).
	Held bool `json:"held,omitempty"`
}

// ClaimOptions changes what Claim does.
type ClaimOptions struct {
	// RetryFailed claims a job that failed before, instead of
	// returning ErrFailed.
	RetryFailed bool
}

// State is where jobs are claimed and recorded. Its implementations make
// these promises, on which exactly-once rests:
//
//   - Claim gives a job to one holder at a time, across processes (and
//     hosts, for a shared State): while a Claim is held, every other
//     Claim of its Key returns ErrBusy.
//   - A holder that dies releases its Claim, without any help from it
//     (the kernel drops its flock; PostgreSQL drops its session's
//     advisory locks when the connection goes).
//   - Once Done has returned, every later Claim of the Key returns
//     ErrDone: the record is durable before Done returns.
//   - A Claim of a job whose last holder died says so (Previous is
//     StateClaimed): the runner then looks for the output that holder
//     may have committed before it could call Done. So the claimed
//     record must outlive its holder, while the hold must not.
//
// A PostgreSQL State keeps these promises so (pgstate.go): Claim locks
// the job's row with SELECT ... FOR UPDATE SKIP LOCKED (a row another
// transaction has locked is ErrBusy), holds the job with a session
// advisory lock of a connection of its own, which the server drops when
// that connection goes, and commits the record, claimed and its attempts
// counted. Done locks the row, updates it and commits on that connection,
// then closes it. Conflicts are decided under a lock on the new job's
// name and version, and by the primary key of its output.
type State interface {
	// Claim takes the job for key, which is to write output. It returns
	// ErrDone, ErrFailed or ErrBusy (wrapped, with the Record where
	// there is one: see RecordOf), or a *ConflictError when the job
	// cannot be taken at all; the conflict is then recorded as the
	// job's failure.
	Claim(ctx context.Context, key Key, output string, opts ClaimOptions) (Claim, error)
	// Get returns the record of key, or nil if there is none.
	Get(ctx context.Context, key Key) (*Record, error)
	// Records returns every job recorded, sorted by Name, Version and
	// SHA256.
	Records(ctx context.Context) ([]Record, error)
	// SaveSummary keeps the summary of the last pass (for --status,
	// which has no incoming directory to look at), and LastSummary
	// returns it (nil before the first pass).
	SaveSummary(ctx context.Context, s *Summary) error
	LastSummary(ctx context.Context) (*Summary, error)
	Close() error
}

// Claim is one held job.
type Claim interface {
	// Record is the job's record as claimed: Attempts counts this one,
	// and Previous is the state before (StateClaimed when a run died
	// holding it, "" for a new job).
	Record() Record
	Previous() string
	// Done records the job done and releases it.
	Done(ctx context.Context) error
	// Fail records the job failed with reason and releases it.
	Fail(ctx context.Context, reason string) error
	// Release gives the job back, recorded as claimed (as if the
	// holder had died): for a run stopping before it began the work.
	Release() error
}

// Errors Claim returns for a job it does not give.
var (
	ErrDone   = errors.New("already done")
	ErrFailed = errors.New("failed before")
	ErrBusy   = errors.New("held by another run")
)

// recordError carries the Record behind an ErrDone or ErrFailed.
type recordError struct {
	rec Record
	err error
}

func (e *recordError) Error() string { return e.err.Error() }
func (e *recordError) Unwrap() error { return e.err }

// RecordOf returns the Record an error of Claim carries, if any.
func RecordOf(err error) (Record, bool) {
	var re *recordError
	if errors.As(err, &re) {
		return re.rec, true
	}
	return Record{}, false
}

// ConflictError is a job that may never be signed as it is: its template
// name and version were seen before with other bytes, or its output
// directory belongs to another job.
type ConflictError struct {
	Key    Key
	Reason string
}

func (e *ConflictError) Error() string { return fmt.Sprintf("%s: %s", e.Key, e.Reason) }
