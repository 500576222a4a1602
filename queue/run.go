package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/job"
	"github.com/mksigned/mksigned/template"
)

// Options are the inputs of Pass.
type Options struct {
	Incoming string // the directory of template and unsigned .debs
	Output   string // each job writes Output/<Source>_<version>/
	State    State
	// Generate is what every job signs with: Key, AuditLog, Requester,
	// Jobs, SourceDateEpoch, Inputs. Template, Unsigned and Output are
	// set per job.
	Generate job.GenerateOptions
	// SignWith, when set, is a shell command that signs instead of
	// Generate.Key: a request on its standard input, the response on
	// its standard output (`ssh signer mksigned sign-request ...
	// --output - -`). Generate.Cert, when set, checks the signatures.
	SignWith string
	// RetryFailed tries again the jobs recorded failed.
	RetryFailed bool
	// Log, when set, gets a line as each job starts and ends.
	Log io.Writer
}

// Summary is what a pass did, or (--status) what the state holds.
type Summary struct {
	Time      time.Time `json:"time"`
	Processed []Item    `json:"processed"`
	Skipped   []Item    `json:"skipped"`
	Waiting   []Item    `json:"waiting"`
	Failed    []Item    `json:"failed"`
}

// Item is one template (or, for a file that is not a package, one file)
// in a Summary.
type Item struct {
	File     string `json:"file"` // in the incoming directory
	Template string `json:"template,omitempty"`
	Version  string `json:"version,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Output   string `json:"output,omitempty"`
	// Missing is, for a waiting template, each unsigned package it lacks
	// and the versions of it that are there.
	Missing []string `json:"missing,omitempty"`
	Reason  string   `json:"reason,omitempty"`
	// Attempts is the job's claims so far; Resumed says that this pass
	// finished the job of a run that died holding it.
	Attempts int  `json:"attempts,omitempty"`
	Resumed  bool `json:"resumed,omitempty"`
}

func newSummary() *Summary {
	return &Summary{Time: time.Now().UTC().Truncate(time.Second), Processed: []Item{}, Skipped: []Item{}, Waiting: []Item{}, Failed: []Item{}}
}

// Pass processes what the incoming directory holds now, one template at a
// time, and saves its Summary in the state. Once ctx is done it starts no
// new job, but the one in hand is finished (signing, writing and
// recording are not interrupted), and Pass returns the Summary so far
// with ctx's error.
func Pass(ctx context.Context, o Options) (*Summary, error) {
	sum := newSummary()
	in, err := scan(ctx, o.Incoming)
	if err != nil {
		return nil, err
	}
	sum.Failed = append(sum.Failed, in.bad...)
	for _, d := range in.templates {
		if ctx.Err() != nil {
			break
		}
		o.one(ctx, d, in, sum)
	}
	if err := o.State.SaveSummary(context.WithoutCancel(ctx), sum); err != nil {
		return sum, err
	}
	return sum, ctx.Err()
}

// one handles a template.
func (o Options) one(ctx context.Context, d *incomingDeb, in *incoming, sum *Summary) {
	it := Item{File: filepath.Base(d.path), Template: d.pkg.Name, Version: d.pkg.Version}
	fail := func(err error) { it.Reason = err.Error(); sum.Failed = append(sum.Failed, it) }
	// Before the claim, an error once ctx is done is the interruption's
	// (a lock not waited for, a template not read): no failure.
	failBefore := func(err error) {
		if ctx.Err() == nil {
			fail(err)
		}
	}
	// Hashed in place first: a pass over templates done before reads
	// each once and copies none.
	sha, _, err := hashFile(d.path)
	if err != nil {
		failBefore(err)
		return
	}
	it.SHA256 = sha
	key := Key{Name: d.pkg.Name, Version: d.pkg.Version, SHA256: sha}
	rec, err := o.State.Get(ctx, key)
	if err != nil {
		failBefore(err)
		return
	}
	if rec != nil {
		it.Output, it.Attempts = rec.Output, rec.Attempts
		switch {
		case rec.State == StateDone:
			it.Reason = "done"
			sum.Skipped = append(sum.Skipped, it)
			return
		case rec.State == StateFailed && !o.RetryFailed:
			it.Reason = rec.Reason
			sum.Failed = append(sum.Failed, it)
			return
		}
	}
	// From here on, one private copy is loaded and signed, the bytes of
	// the key (see snapshot); a file changed since it was hashed is
	// looked at again in the next pass.
	tmpl, snapSHA, remove, err := snapshot(d.path)
	if err != nil {
		failBefore(err)
		return
	}
	defer remove()
	if snapSHA != sha {
		failBefore(&inputerr.Error{File: d.path, Offset: inputerr.NoOffset, Err: errors.New("changed while it was read: looked at again in the next pass")})
		return
	}
	t, err := template.LoadContext(ctx, tmpl)
	if err != nil {
		failBefore(err)
		return
	}
	it.Output = outputName(t)
	debs, missing, err := in.match(t)
	if err != nil {
		failBefore(err)
		return
	}
	if len(missing) > 0 {
		it.Missing = missing
		sum.Waiting = append(sum.Waiting, it)
		return
	}
	c, err := o.State.Claim(ctx, key, it.Output, ClaimOptions{RetryFailed: o.RetryFailed})
	if r, ok := RecordOf(err); ok {
		it.Attempts = r.Attempts
	}
	switch {
	case errors.Is(err, ErrDone):
		it.Reason = "done"
		sum.Skipped = append(sum.Skipped, it)
		return
	case errors.Is(err, ErrBusy):
		it.Reason = "held by another run"
		sum.Skipped = append(sum.Skipped, it)
		return
	case errors.Is(err, ErrFailed):
		r, _ := RecordOf(err)
		it.Reason = r.Reason
		sum.Failed = append(sum.Failed, it)
		return
	case err != nil:
		failBefore(err)
		return
	}
	it.Attempts = c.Record().Attempts
	// From here the job runs to its end: a signal stops the run after
	// it, never half way.
	work := context.WithoutCancel(ctx)
	resumed, err := o.work(work, c, tmpl, debs)
	if err != nil {
		if ferr := c.Fail(work, err.Error()); ferr != nil {
			err = fmt.Errorf("%w (and recording the failure: %v)", err, ferr)
		}
		o.logf("failed %s: %v\n", key, err)
		fail(err)
		return
	}
	if err := c.Done(work); err != nil {
		o.logf("failed %s: %v\n", key, err)
		fail(err)
		return
	}
	it.Resumed = resumed
	sum.Processed = append(sum.Processed, it)
}

func (o Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format, args...)
	}
}

// work does a claimed job: signs and writes its output, or, for a job a
// dead run held, finds the output that run committed. It says whether
// the output was found (resumed).
func (o Options) work(ctx context.Context, c Claim, tmpl string, debs []string) (bool, error) {
	rec := c.Record()
	out := filepath.Join(o.Output, rec.Output)
	// A dead run's temporary directories: no one else writes under
	// this name (the output is the job's alone, and the job is ours).
	stale, _ := filepath.Glob(filepath.Join(o.Output, "."+rec.Output+".pkggen-*"))
	for _, s := range stale {
		if err := os.RemoveAll(s); err != nil {
			return false, fmt.Errorf("removing a dead run's temporary output: %w", err)
		}
	}
	if _, err := os.Lstat(out); err == nil {
		if c.Previous() != StateClaimed {
			return false, fmt.Errorf("output %s exists already, and this job has not written it: move it away and run with --retry-failed", inputerr.Name(out))
		}
		// Written by the run that died holding the job: committed whole
		// (by a rename), but checked all the same.
		if err := checkOutput(out, o.Generate.Changes); err != nil {
			return false, fmt.Errorf("output %s, left by a run that died: %w", inputerr.Name(out), err)
		}
		o.logf("resumed %s: %s was complete\n", rec.Key, inputerr.Name(out))
		return true, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	g := o.Generate
	g.Template, g.Unsigned, g.Output = tmpl, debs, out
	if o.SignWith != "" {
		o.logf("requesting %s\n", rec.Key)
		resp, remove, err := o.signRemotely(ctx, g)
		if err != nil {
			return false, err
		}
		defer remove()
		g.Signatures = resp
	}
	if g.AuditLog != nil {
		who := fmt.Sprintf("mksigned process: %s sha256 %s, attempt %d", rec.Key, rec.SHA256, rec.Attempts)
		if g.Requester == "" {
			g.Requester = "(" + who + ")"
		} else {
			g.Requester += " (" + who + ")"
		}
	}
	o.logf("signing %s -> %s\n", rec.Key, inputerr.Name(out))
	if _, err := job.Generate(ctx, g); err != nil {
		if o.SignWith != "" {
			return false, fmt.Errorf("with the response of --sign-with: %w", err)
		}
		return false, err
	}
	// The rename that committed the output, made durable before the
	// record says done.
	if d, err := os.Open(o.Output); err == nil {
		d.Sync()
		d.Close()
	}
	return false, nil
}
