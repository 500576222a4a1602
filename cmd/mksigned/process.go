package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/job"
	"github.com/mksigned/mksigned/queue"
)

func runProcess(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("process",
		"--incoming DIR --output DIR --state STATE (--key KEY --cert CERT | --key pkcs11:URI | --sign-with CMD) [--once]\n"+
			"      [--changes] [--upload-key FILE [--upload-passphrase-file FILE] | --upload-key-id FPR]\n"+
			"  mksigned process --status --state STATE",
		`Sign every template version in the incoming directory exactly once: for
each *-signed-template .deb whose unsigned packages are there too (by name,
at the versions its Build-Depends pin), write what generate writes into
OUTPUT/<Source>_<version>/. A template whose packages are missing waits;
one that fails is recorded with its reason and the others go on. The state
(a directory, or a PostgreSQL database for several hosts) records each
job, so that a rerun, or a run after one that was killed at any moment,
signs nothing that was done. Several runs may share a state: each job is
taken by one. A run that loses its PostgreSQL connection exits non-zero.

With --once, process what is there and exit (status 1 if anything
failed); else watch the incoming directory until SIGTERM or SIGINT, which
let the job in hand finish, and exit 0. Name files *.deb only when they
are complete (upload as NAME.part, then rename): other names are ignored.

With --changes, each output also holds the .changes; --upload-key (or
--upload-key-id) clear-signs the .dsc and the .changes, as generate does.
The key is loaded once, before any job is taken.
`, stdout)
	var o queue.Options
	var k keyRef
	var stateDir, auditLog string
	var once, status, asJSON, noInotify bool
	var poll time.Duration
	fs.StringVar(&o.Incoming, "incoming", "", "directory `DIR` of template and unsigned .debs (read only)")
	fs.StringVar(&o.Output, "output", "", "directory `DIR` to write each job's <Source>_<version>/ into (created if missing)")
	fs.StringVar(&stateDir, "state", "", "state directory `STATE` (created if missing), or a PostgreSQL database\n"+
		"postgres://USER@HOST/DB shared by several hosts (password from PGPASSFILE, ~/.pgpass or PGPASSWORD)")
	addKeyFlags(fs, &k, "; with --sign-with, checks the signatures")
	fs.StringVar(&o.SignWith, "sign-with", "", "have the shell command `CMD` sign instead of --key: a request (mksigned request) on its\n"+
		"standard input, the response on its standard output, as\n"+
		"'ssh signer mksigned sign-request ... --output - -' gives")
	fs.StringVar(&auditLog, "audit-log", "", "record each signature made in the audit log `FILE`, naming the job and attempt")
	fs.StringVar(&o.Generate.Requester, "requester", "", "`NAME` who asked, for --audit-log (default: $SSH_CLIENT's address)")
	fs.IntVar(&o.Generate.Jobs, "jobs", min(runtime.NumCPU(), job.MaxJobs), fmt.Sprintf("sign `N` files of a job at once, at most %d", job.MaxJobs))
	var up uploadFlags
	up.define(fs, &o.Generate)
	fs.BoolVar(&once, "once", false, "process what is there, then exit")
	fs.DurationVar(&poll, "poll", 2*time.Second, "without --once, look at the incoming directory every `D`, beside inotify")
	fs.BoolVar(&noInotify, "no-inotify", false, "without --once, only poll (inotify does not see the changes other NFS clients make)")
	fs.BoolVar(&o.RetryFailed, "retry-failed", false, "try again the jobs recorded failed")
	fs.BoolVar(&status, "status", false, "print what the state holds and the last pass's summary, and do nothing")
	fs.BoolVar(&asJSON, "json", false, "print each summary as one JSON object")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("unexpected argument %q", pos[0])
	case stateDir == "":
		return usagef("--state is required")
	case status:
		if o.Incoming != "" || o.Output != "" || k.key != "" || once || auditLog != "" || o.Generate.Changes || up.given() {
			return usagef("--status takes only --state and --json")
		}
		return processStatus(ctx, stateDir, asJSON, stdout)
	case o.Incoming == "":
		return usagef("--incoming is required")
	case o.Output == "":
		return usagef("--output is required")
	case k.key == "" && o.SignWith == "":
		return usagef("--key and --cert are required (or --sign-with CMD)")
	case k.key != "" && o.SignWith != "":
		return usagef("--key and --sign-with exclude each other: sign here, or have CMD sign")
	case auditLog != "" && o.SignWith != "":
		return usagef("--audit-log records the signatures --key makes; with --sign-with, the signing host keeps the log")
	case o.Generate.Jobs < 1 || o.Generate.Jobs > job.MaxJobs:
		return usagef("--jobs must be from 1 to %d", job.MaxJobs)
	case poll < 100*time.Millisecond:
		return usagef("--poll must be at least 100ms")
	case len(o.Generate.Requester) > maxRequester:
		return usagef("--requester is %d bytes, more than %d", len(o.Generate.Requester), maxRequester)
	}
	if err := up.check(); err != nil {
		return err
	}
	if err := k.check(); err != nil {
		return err
	}
	if err := deb.CheckDecompressEnv(); err != nil {
		return err
	}
	dirs := [][2]string{{"--output", o.Output}}
	if !queue.IsPostgresURL(stateDir) {
		dirs = append(dirs, [2]string{"--state", stateDir})
	}
	for _, d := range dirs {
		if filepath.Clean(d[1]) == filepath.Clean(o.Incoming) {
			return usagef("%s may not be --incoming", d[0])
		}
	}
	// The output is what gets published: the state's files would go
	// with it.
	if len(dirs) == 2 && filepath.Clean(stateDir) == filepath.Clean(o.Output) {
		return usagef("--state may not be --output")
	}
	g := &o.Generate
	g.SourceDateEpoch = os.Getenv("SOURCE_DATE_EPOCH")
	// The upload key is loaded here, once for every job, before the
	// state is opened: a key that cannot sign claims nothing.
	closeAll, err := openSigning(ctx, &k, &up, auditLog, g)
	defer closeAll()
	if err != nil {
		return err
	}
	st, err := openState(ctx, stateDir, true)
	if err != nil {
		return err
	}
	defer st.Close()
	o.State = st
	if err := os.Mkdir(o.Output, 0o777); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("--output: %w", err)
	}
	// As generate sets it for its run; a template names a few packages
	// (the kernel's three, most one).
	if p := job.Procs(g.Jobs, 3); p > runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(p)
	}
	if !asJSON {
		o.Log = stderr
	}
	if once {
		sum, err := queue.Pass(ctx, o)
		if sum != nil {
			printSummary(stdout, sum, asJSON)
		}
		if err != nil && ctx.Err() == nil {
			return err
		}
		if ctx.Err() == nil && len(sum.Failed) > 0 {
			return errReported
		}
		return nil
	}
	var changed <-chan struct{}
	if !noInotify {
		ch, stop, err := notify(o.Incoming)
		if err != nil {
			fmt.Fprintf(stderr, "mksigned: %v; polling every %v\n", err, poll)
		} else {
			defer stop()
			changed = ch
		}
	}
	return watch(ctx, o, poll, changed, asJSON, stdout)
}

// watch runs a pass, then another each time the incoming directory
// changes, until ctx is done (SIGTERM): then it returns nil, the job in
// hand finished. It looks at the directory when changed says so
// (inotify; nil without it) and every poll: a listing of names, sizes
// and times, which costs nothing next to a job, decides whether a pass
// runs.
func watch(ctx context.Context, o queue.Options, poll time.Duration, changed <-chan struct{}, asJSON bool, stdout io.Writer) error {
	last := ""
	for {
		snap, err := snapshot(o.Incoming)
		if err != nil {
			return err
		}
		if snap != last {
			sum, err := queue.Pass(ctx, o)
			if sum != nil {
				printSummary(stdout, sum, asJSON)
			}
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return err
			}
			last = snap
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-changed:
			t.Stop()
		case <-t.C:
		}
	}
}

// snapshot is the incoming directory's listing: a new, changed or
// removed file changes it.
func snapshot(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("--incoming: %w", err)
	}
	var b strings.Builder
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue // removed since the listing
		}
		fmt.Fprintf(&b, "%q %d %d\n", e.Name(), fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String(), nil
}

func printSummary(w io.Writer, s *queue.Summary, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(s)
		return
	}
	q := inputerr.Name
	line := func(verb string, it queue.Item, rest string) {
		name := q(it.File)
		if it.Template != "" {
			name = it.Template + " " + it.Version
		}
		fmt.Fprintf(w, "%-9s %s%s\n", verb, name, rest)
	}
	for _, it := range s.Processed {
		rest := " -> " + q(it.Output)
		if it.Resumed {
			rest += " (a killed run's output, found complete)"
		}
		line("processed", it, rest)
	}
	for _, it := range s.Skipped {
		line("skipped", it, ": "+it.Reason)
	}
	for _, it := range s.Waiting {
		line("waiting", it, " for:")
		for _, m := range it.Missing {
			fmt.Fprintf(w, "            %s\n", m)
		}
	}
	for _, it := range s.Failed {
		if it.Template == "" { // not a package: the reason names the file
			fmt.Fprintf(w, "%-9s %s\n", "failed", it.Reason)
			continue
		}
		line("failed", it, ": "+it.Reason)
	}
	fmt.Fprintf(w, "%d processed, %d skipped, %d waiting, %d failed\n", len(s.Processed), len(s.Skipped), len(s.Waiting), len(s.Failed))
}

// statusResult is what --status --json prints: every job recorded, by
// state, and the last pass's summary.
type statusResult struct {
	Done     []queue.Record `json:"done"`
	Failed   []queue.Record `json:"failed"`
	Claimed  []queue.Record `json:"claimed"`
	LastPass *queue.Summary `json:"last_pass"`
}

// openState opens --state: a PostgreSQL URL or a directory. Only a run
// (create) makes the tables of a new database.
func openState(ctx context.Context, state string, create bool) (queue.State, error) {
	if queue.IsPostgresURL(state) {
		return queue.OpenPostgres(ctx, state, create)
	}
	return queue.OpenDir(ctx, state)
}

func processStatus(ctx context.Context, dir string, asJSON bool, stdout io.Writer) error {
	if _, err := os.Stat(dir); err != nil && !queue.IsPostgresURL(dir) {
		return fmt.Errorf("--state: %w", err)
	}
	st, err := openState(ctx, dir, false)
	if err != nil {
		return err
	}
	defer st.Close()
	recs, err := st.Records(ctx)
	if err != nil {
		return err
	}
	last, err := st.LastSummary(ctx)
	if err != nil {
		return err
	}
	r := statusResult{Done: []queue.Record{}, Failed: []queue.Record{}, Claimed: []queue.Record{}, LastPass: last}
	for _, rec := range recs {
		switch rec.State {
		case queue.StateDone:
			r.Done = append(r.Done, rec)
		case queue.StateFailed:
			r.Failed = append(r.Failed, rec)
		default:
			r.Claimed = append(r.Claimed, rec)
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	for _, rec := range r.Done {
		fmt.Fprintf(stdout, "done      %s -> %s\n", rec.Key, inputerr.Name(rec.Output))
	}
	for _, rec := range r.Failed {
		fmt.Fprintf(stdout, "failed    %s: %s\n", rec.Key, rec.Reason)
	}
	for _, rec := range r.Claimed {
		how := "its run died: the next pass resumes it"
		if rec.Held {
			how = "in progress (" + rec.By + ")"
		}
		fmt.Fprintf(stdout, "claimed   %s: %s\n", rec.Key, how)
	}
	if last != nil {
		for _, it := range last.Waiting {
			fmt.Fprintf(stdout, "waiting   %s %s (at %s) for:\n", it.Template, it.Version, last.Time.Format(time.RFC3339))
			for _, m := range it.Missing {
				fmt.Fprintf(stdout, "            %s\n", m)
			}
		}
	}
	fmt.Fprintf(stdout, "%d done, %d failed, %d claimed", len(r.Done), len(r.Failed), len(r.Claimed))
	if last != nil {
		fmt.Fprintf(stdout, ", %d waiting at the last pass", len(last.Waiting))
	}
	fmt.Fprintln(stdout)
	return nil
}
