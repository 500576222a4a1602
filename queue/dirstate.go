package queue

// DirState is the embedded State: a directory on one host.
//
//	STATE/format                      "1\n": the layout's version
//	STATE/lock                        flock'd while the state is read or changed
//	STATE/jobs/<name>_<version>/<sha256>.json   one Record per template version
//	STATE/jobs/<name>_<version>/<sha256>.lock   flock'd while a run holds the job
//	STATE/outputs/<output>            the Key of the job that owns the output directory
//	STATE/summary.json                the last pass's Summary
//
// Why not SQLite: the pure-Go modernc.org/sqlite is a very large
// dependency (it makes the -race build of CI minutes slower) for what is
// here a few hundred small records, written a few times each, by one or
// two processes of one host. flock(2) and rename(2) give what is needed.
//
// Every record is written whole with atomicfile.Write (a temporary file,
// fsync, rename, fsync of the directory): a reader sees the old record or
// the new one, and a crash leaves one of them. A record that does not
// parse (edited, or a disk that lost it) is an error naming the file; it
// is never overwritten, so nothing is lost, and that job is not signed
// until someone looks.
//
// Exactly once. A job goes claimed → done (or failed), and the runner
// (run.go) does its work between the two:
//
//  1. Claim, under STATE/lock: a done (or failed) record is left alone;
//     otherwise the job's own lock file is flock'd without waiting. If
//     another process holds it, that process is alive and working on the
//     job (the kernel drops a flock when its process dies, however it
//     dies), so the job is busy and skipped. Else the record is written
//     "claimed", attempts counted, and the flock is kept for the whole
//     job. STATE/lock is held only for these few reads and writes;
//     lock order is STATE/lock, then a job's lock, never waiting for the
//     latter, so two runs cannot deadlock.
//  2. The work: pkggen.Commit writes the output into a temporary
//     directory beside it and renames that to OUTPUT/<output> at the end,
//     so OUTPUT/<output> is either absent or complete. The output
//     directory is fsynced after the rename.
//  3. Done, under STATE/lock: the record is written "done"; then the job's
//     flock is released.
//
// A run killed at any moment leaves one of: no record (killed before 1:
// the job is new next time); a "claimed" record and no output (killed
// before the rename: maybe it signed, maybe not, but nothing was
// committed, so the next run signs again, and the audit log then shows
// the job's signatures twice, under attempts 1 and 2 — see below); a
// "claimed" record and a complete output (killed between the rename and
// Done: the next run checks the output against its .dsc's checksums and
// records it done without signing); a "done" record. A "claimed" record
// whose lock the next run obtains is therefore a dead run's, and the
// runner finishes it by these cases, first removing the temporary
// directories of the dead run (".<output>.pkggen-*"; no one else writes
// under that name). A dead run's temporary state files are removed when
// the state is next opened.
//
// So "signed twice" can only mean two committed outputs, or two done
// records, for one template version, and neither can happen: one Key has
// one record, done once, and one output directory, never replaced (the
// runner refuses to write into one that exists). Signatures made by a run
// that died before committing exist only in that run's memory and its
// audit log entries: the audit log (--audit-log) names the job and the
// attempt in each entry's requester, and a verifier that sees a
// template's signatures under two attempts knows that only the attempt
// recorded done was committed. With a deterministic signing time (the
// changelog's date, or SOURCE_DATE_EPOCH) the two attempts' signatures
// are the same bytes.
//
// Conflicts are decided under STATE/lock: a template name and version
// seen before with other bytes (another <sha256>.json in its directory),
// or an output directory owned by another Key (STATE/outputs), fail the
// new job with the reason, and the earlier job stands.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mksigned/mksigned/internal/atomicfile"
	"github.com/mksigned/mksigned/internal/inputerr"
)

// Format is the layout version DirState writes and reads; a state of a
// higher one is refused (ErrNewerFormat), never read as this one.
const Format = 1

// ErrNewerFormat is a state directory written by a newer mksigned.
var ErrNewerFormat = errors.New("state of a newer format")

// DirState is a State in a directory. See the comment at the top of
// dirstate.go.
type DirState struct {
	dir  string
	lock *os.File // STATE/lock
	by   string   // "host pid N", written into the records this process claims
}

// OpenDir opens the state directory dir, creating it (its parent must
// exist) with a format file when it is missing or empty. It waits for
// another process's lock until ctx is done.
func OpenDir(ctx context.Context, dir string) (*DirState, error) {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("state %s: %w", inputerr.Name(dir), err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", inputerr.Name(dir), err)
	}
	host, _ := os.Hostname()
	s := &DirState{dir: dir, lock: f, by: fmt.Sprintf("%s pid %d", host, os.Getpid())}
	err = s.locked(ctx, func() error {
		if err := s.checkFormat(); err != nil {
			return err
		}
		return s.removeTemporary()
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// checkFormat reads STATE/format, or writes it into a new state.
func (s *DirState) checkFormat() error {
	name := filepath.Join(s.dir, "format")
	b, err := readSmall(name, maxRecord)
	if errors.Is(err, fs.ErrNotExist) {
		ents, err := os.ReadDir(s.dir)
		if err != nil {
			return fmt.Errorf("state %s: %w", inputerr.Name(s.dir), err)
		}
		for _, e := range ents {
			if e.Name() != "lock" {
				return fmt.Errorf("state %s: not a mksigned state directory: it holds %s but no format file",
					inputerr.Name(s.dir), inputerr.Name(e.Name()))
			}
		}
		if err := atomicfile.Write(name, []byte(strconv.Itoa(Format)+"\n"), 0o600); err != nil {
			return fmt.Errorf("state %s: %w", inputerr.Name(s.dir), err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("state %s: %w", inputerr.Name(s.dir), err)
	}
	v, err := strconv.Atoi(strings.TrimSuffix(string(b), "\n"))
	switch {
	case err != nil || v < 1:
		return &inputerr.Error{File: name, Offset: inputerr.NoOffset,
			Err: fmt.Errorf("is %s, not a format number", inputerr.Value(string(b)))}
	case v > Format:
		return &inputerr.Error{File: name, Offset: inputerr.NoOffset,
			Err: fmt.Errorf("%w: format %d, and this mksigned reads format %d: use a newer mksigned", ErrNewerFormat, v, Format)}
	}
	return nil
}

// removeTemporary removes the temporary files of writes a run was
// killed in the middle of. Every write is made holding STATE/lock, so
// when this process holds it any temporary file is a dead run's.
func (s *DirState) removeTemporary() error {
	for _, pattern := range []string{".*.tmp-*", "jobs/*/.*.tmp-*", "outputs/.*.tmp-*"} {
		stale, _ := filepath.Glob(filepath.Join(s.dir, pattern))
		for _, f := range stale {
			if err := os.Remove(f); err != nil {
				return fmt.Errorf("state %s: removing a dead run's temporary file: %w", inputerr.Name(s.dir), err)
			}
		}
	}
	return nil
}

// locked runs fn holding STATE/lock.
func (s *DirState) locked(ctx context.Context, fn func() error) error {
	if err := lockContext(ctx, s.lock); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("state %s: waiting for its lock: %w", inputerr.Name(s.dir), err)
		}
		return fmt.Errorf("state %s: lock: %w", inputerr.Name(s.dir), err)
	}
	defer unlock(s.lock)
	return fn()
}

// Close closes the state.
func (s *DirState) Close() error { return s.lock.Close() }

// Claim implements State.
func (s *DirState) Claim(ctx context.Context, key Key, output string, opts ClaimOptions) (Claim, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := checkOutputName(output); err != nil {
		return nil, err
	}
	var c *dirClaim
	err := s.locked(ctx, func() error {
		rec, err := readRecord(s.recordPath(key))
		if err != nil {
			return err
		}
		prev := ""
		if rec != nil {
			prev = rec.State
			switch {
			case rec.State == StateDone:
				return &recordError{*rec, ErrDone}
			case rec.State == StateFailed && !opts.RetryFailed:
				return &recordError{*rec, ErrFailed}
			}
		} else {
			rec = &Record{Key: key, Output: output}
			if reason, err := s.conflict(key, output); err != nil {
				return err
			} else if reason != "" {
				if err := mkdirSync(s.jobDir(key)); err != nil {
					return fmt.Errorf("state %s: %w", inputerr.Name(s.dir), err)
				}
				rec.State, rec.Reason, rec.By = StateFailed, reason, s.by
				if err := s.writeRecord(rec); err != nil {
					return err
				}
				return &ConflictError{Key: key, Reason: reason}
			}
		}
		if err := mkdirSync(s.jobDir(key)); err != nil {
			return fmt.Errorf("state %s: %w", inputerr.Name(s.dir), err)
		}
		lf, err := os.OpenFile(filepath.Join(s.jobDir(key), key.SHA256+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("state %s: %w", inputerr.Name(s.dir), err)
		}
		ok, err := tryLock(lf)
		if err != nil || !ok {
			lf.Close()
			if err != nil {
				return fmt.Errorf("state %s: lock: %w", inputerr.Name(s.dir), err)
			}
			return &recordError{*rec, ErrBusy}
		}
		if prev == "" {
			if err := s.reserve(key, output); err != nil {
				lf.Close()
				return err
			}
		}
		rec.State, rec.Reason, rec.By = StateClaimed, "", s.by
		rec.Attempts++
		if err := s.writeRecord(rec); err != nil {
			lf.Close()
			return err
		}
		c = &dirClaim{s: s, rec: *rec, prev: prev, lock: lf}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// conflict says why a new job may not be taken ("" if it may): another
// record of its name and version, or its output owned by another job.
func (s *DirState) conflict(key Key, output string) (string, error) {
	ents, err := os.ReadDir(s.jobDir(key))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("state %s: %w", inputerr.Name(s.dir), err)
	}
	for _, e := range ents {
		if sha, ok := strings.CutSuffix(e.Name(), ".json"); ok && sha != key.SHA256 {
			return fmt.Sprintf("%s was seen before with other bytes (sha256 %s, now %s): a changed template needs a new version",
				key, sha, key.SHA256), nil
		}
	}
	b, err := readSmall(filepath.Join(s.dir, "outputs", output), maxRecord)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("state %s: %w", inputerr.Name(s.dir), err)
	}
	var owner Key
	if err := json.Unmarshal(b, &owner); err != nil {
		return "", &inputerr.Error{File: filepath.Join(s.dir, "outputs", output), Offset: inputerr.NoOffset,
			Err: fmt.Errorf("corrupt state record: %w", inputerr.Tame(err))}
	}
	if owner != key {
		return fmt.Sprintf("its output %s is that of %s (sha256 %s) already", output, owner, owner.SHA256), nil
	}
	return "", nil
}

// reserve records that output belongs to key.
func (s *DirState) reserve(key Key, output string) error {
	dir := filepath.Join(s.dir, "outputs")
	if err := mkdirSync(dir); err != nil {
		return fmt.Errorf("state %s: %w", inputerr.Name(s.dir), err)
	}
	b, _ := json.Marshal(key)
	if err := atomicfile.Write(filepath.Join(dir, output), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("state %s: %w", inputerr.Name(s.dir), err)
	}
	return nil
}

// dirClaim is a job DirState gave: its lock file is flock'd until Done,
// Fail or Release.
type dirClaim struct {
	s    *DirState
	rec  Record
	prev string
	lock *os.File
}

func (c *dirClaim) Record() Record   { return c.rec }
func (c *dirClaim) Previous() string { return c.prev }

func (c *dirClaim) Done(ctx context.Context) error { return c.finish(ctx, StateDone, "") }

func (c *dirClaim) Fail(ctx context.Context, reason string) error {
	return c.finish(ctx, StateFailed, reason)
}

// finish writes the record's final state, then releases the job: in that
// order, so that no other run can claim the job between the two.
func (c *dirClaim) finish(ctx context.Context, state, reason string) error {
	if c.lock == nil {
		return errors.New("job already released")
	}
	defer c.Release()
	return c.s.locked(ctx, func() error {
		r := c.rec
		r.State, r.Reason = state, reason
		if err := c.s.writeRecord(&r); err != nil {
			return err
		}
		c.rec = r
		return nil
	})
}

func (c *dirClaim) Release() error {
	if c.lock == nil {
		return nil
	}
	err := c.lock.Close()
	c.lock = nil
	return err
}
