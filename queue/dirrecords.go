package queue

// DirState's record files: reading and checking them, writing them, and
// the State methods that only read.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/mksigned/mksigned/internal/atomicfile"
	"github.com/mksigned/mksigned/internal/debname"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/inputfile"
)

// maxRecord bounds a record file; real ones are a few hundred bytes.
const maxRecord = 64 << 10

// reVersion is what a Debian version may hold (Policy §5.6.12), which
// also keeps it safe in a file name.
var reVersion = regexp.MustCompile(`^[0-9A-Za-z.+~:-]{1,256}$`)

// reSHA256 is a lower-case hex SHA-256.
var reSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func checkKey(k Key) error {
	switch {
	case !debname.ValidPackage(k.Name):
		return fmt.Errorf("template name %s is not a valid package name", inputerr.Value(k.Name))
	case !reVersion.MatchString(k.Version):
		return fmt.Errorf("template version %s is not a valid version", inputerr.Value(k.Version))
	case !reSHA256.MatchString(k.SHA256):
		return fmt.Errorf("template sha256 %s is not a SHA-256", inputerr.Value(k.SHA256))
	}
	return nil
}

// checkOutputName checks an output directory name: a plain name.
func checkOutputName(o string) error {
	if o == "" || o != filepath.Base(o) || o == "." || o == ".." || strings.HasPrefix(o, ".") {
		return fmt.Errorf("output %s is not a plain directory name", inputerr.Value(o))
	}
	return nil
}

func (s *DirState) jobDir(k Key) string {
	return filepath.Join(s.dir, "jobs", k.Name+"_"+k.Version)
}

func (s *DirState) recordPath(k Key) string { return filepath.Join(s.jobDir(k), k.SHA256+".json") }

// readRecord reads a record file; a missing one is (nil, nil). It is
// opened as an input (inputfile.Open): a FIFO in its place would block
// open(2), holding STATE/lock, past any signal.
func readRecord(name string) (*Record, error) {
	f, err := inputfile.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxRecord+1)); err != nil {
		return nil, &inputerr.Error{File: name, Offset: inputerr.NoOffset, Err: err}
	}
	if buf.Len() > maxRecord {
		return nil, &inputerr.Error{File: name, Offset: inputerr.NoOffset, Err: fmt.Errorf("more than %d bytes: not a state record", maxRecord)}
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	var r Record
	if err := dec.Decode(&r); err != nil {
		return nil, &inputerr.Error{File: name, Offset: inputerr.NoOffset,
			Err: fmt.Errorf("corrupt state record (move it aside to redo the job, or restore it): %w", inputerr.Tame(err))}
	}
	bad := func(what string) error {
		return &inputerr.Error{File: name, Offset: inputerr.NoOffset, Err: fmt.Errorf("corrupt state record: %s", what)}
	}
	if err := checkKey(r.Key); err != nil {
		return nil, bad(err.Error())
	}
	if filepath.Base(name) != r.SHA256+".json" || filepath.Base(filepath.Dir(name)) != r.Name+"_"+r.Version {
		return nil, bad("its template, version and sha256 are not those its file name says")
	}
	switch r.State {
	case StateClaimed, StateDone, StateFailed:
	default:
		return nil, bad("state " + inputerr.Value(r.State))
	}
	if err := checkOutputName(r.Output); err != nil {
		return nil, bad(err.Error())
	}
	return &r, nil
}

// readSmall reads a state file of at most max bytes, opened as an
// input (see readRecord).
func readSmall(name string, max int64) ([]byte, error) {
	f, err := inputfile.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(b)) > max {
		err = &inputerr.Error{File: name, Offset: inputerr.NoOffset, Err: fmt.Errorf("more than %d bytes: not a state file", max)}
	}
	return b, err
}

func (s *DirState) writeRecord(r *Record) error {
	r.Updated = time.Now().UTC().Truncate(time.Second)
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(s.recordPath(r.Key), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("state %s: %w", inputerr.Name(s.dir), err)
	}
	return nil
}

// mkdirSync makes dir (and its parents) and syncs the parent, so that a
// record written into it survives a crash.
func mkdirSync(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, d := range []string{filepath.Dir(dir), filepath.Dir(filepath.Dir(dir))} {
		if f, err := os.Open(d); err == nil {
			f.Sync()
			f.Close()
		}
	}
	return nil
}

// Get implements State.
func (s *DirState) Get(ctx context.Context, key Key) (*Record, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	var r *Record
	err := s.locked(ctx, func() error {
		var err error
		r, err = readRecord(s.recordPath(key))
		return err
	})
	return r, err
}

// Records implements State. A claimed record whose job lock is free
// belongs to a run that died (Held false).
func (s *DirState) Records(ctx context.Context) ([]Record, error) {
	var out []Record
	err := s.locked(ctx, func() error {
		dirs, err := os.ReadDir(filepath.Join(s.dir, "jobs"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("state %s: %w", inputerr.Name(s.dir), err)
		}
		for _, d := range dirs {
			ents, err := os.ReadDir(filepath.Join(s.dir, "jobs", d.Name()))
			if err != nil {
				return fmt.Errorf("state %s: %w", inputerr.Name(s.dir), err)
			}
			for _, e := range ents {
				if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
					continue
				}
				r, err := readRecord(filepath.Join(s.dir, "jobs", d.Name(), e.Name()))
				if err != nil {
					return err
				}
				if r.State == StateClaimed {
					r.Held = s.held(r.Key)
				}
				out = append(out, *r)
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Key, out[j].Key
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.SHA256 < b.SHA256
	})
	return out, err
}

// held says whether a live run holds the job's lock.
func (s *DirState) held(k Key) bool {
	lf, err := os.Open(filepath.Join(s.jobDir(k), k.SHA256+".lock"))
	if err != nil {
		return false
	}
	defer lf.Close()
	ok, err := tryLock(lf)
	return err == nil && !ok
}

// SaveSummary implements State.
func (s *DirState) SaveSummary(ctx context.Context, sum *Summary) error {
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	return s.locked(ctx, func() error {
		if err := atomicfile.Write(filepath.Join(s.dir, "summary.json"), append(b, '\n'), 0o600); err != nil {
			return fmt.Errorf("state %s: %w", inputerr.Name(s.dir), err)
		}
		return nil
	})
}

// LastSummary implements State.
func (s *DirState) LastSummary(ctx context.Context) (*Summary, error) {
	var sum *Summary
	err := s.locked(ctx, func() error {
		name := filepath.Join(s.dir, "summary.json")
		b, err := readSmall(name, maxRecord)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("state %s: %w", inputerr.Name(s.dir), err)
		}
		sum = new(Summary)
		if err := json.Unmarshal(b, sum); err != nil {
			return &inputerr.Error{File: name, Offset: inputerr.NoOffset, Err: fmt.Errorf("corrupt summary: %w", inputerr.Tame(err))}
		}
		return nil
	})
	return sum, err
}
