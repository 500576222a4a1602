// Package audit is the signing host's audit log: an append-only file of
// JSON lines, one per signature made, written and fsynced before the
// signature is released (issue 10, §4).
//
// Each line is a JSON object whose first member, "prev", is the
// lower-case hex SHA-256 of the line before it, its "\n" included; the
// first line's prev is 64 zeros (Genesis), so that every line has the
// same shape. The other members are an Entry's, in its fields' order:
//
//	{"prev":"000…","time":"2026-01-02T03:04:05Z","key_sha256":"3f1c…",…}
//
// An edited, removed or reordered line breaks the chain at the line after
// it, and Verify names that line. What no chain can show is the last
// line edited, or lines cut from the end at a line boundary: keep a copy
// of the log, or its last line's hash, elsewhere (a log host) for that.
// On Linux, `chattr +a` makes the file append-only for root too; Open and
// Append work on such a file.
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mksigned/mksigned/internal/hexdigest"
	"github.com/mksigned/mksigned/internal/inputerr"
)

// MaxLine is the longest line, its "\n" included, that Append writes and
// Open and Verify read. A record is a few hundred bytes; the limit bounds
// what reading the tail of a log costs.
const MaxLine = 64 << 10

// Genesis is the prev of a log's first line.
var Genesis = strings.Repeat("0", 64)

// Entry is one signature made.
type Entry struct {
	// Time is when it was made, in UTC (Append converts it; a zero Time
	// becomes the time of the Append).
	Time            time.Time `json:"time"`
	KeySHA256       string    `json:"key_sha256"` // SHA-256 of the signing certificate's DER
	Requester       string    `json:"requester"`  // --requester or $SSH_CLIENT
	Template        string    `json:"template"`
	TemplateVersion string    `json:"template_version"`
	Package         string    `json:"package"`
	PackageVersion  string    `json:"package_version"`
	Path            string    `json:"path"`
	SigType         string    `json:"sig_type"`
	DigestAlgorithm string    `json:"digest_algorithm"`
	Digest          string    `json:"digest"`
	SignatureSHA256 string    `json:"signature_sha256"` // of the detached signature's DER
}

// record is one line of the log.
type record struct {
	Prev string `json:"prev"`
	Entry
}

// Log is an open audit log. Its methods may be called from several
// goroutines; several processes may hold the same log open at once.
type Log struct {
	mu   sync.Mutex // one Append at a time: flock does not exclude a process from itself
	f    *os.File
	path string
	sync func(*os.File) error // (*os.File).Sync; tests count the calls
	// Cut is how many bytes of an unfinished record, left by a writer
	// killed inside its write, Open cut off the log's end (cutTorn):
	// nearly always 0. Callers say so when it is not.
	Cut int64
}

// Open opens the log at path for appending, creating it (mode 0600, and
// its directory fsynced so the name survives a crash) if absent. Under
// the lock it checks that the log's end is intact: empty, or ending in
// "\n" with a last line that is a record. A log that is corrupt, not a
// regular file or not writable is an error: a new chain is never started
// in its place. Open reads only the last line: run Verify for the rest.
func Open(path string) (*Log, error) { return OpenContext(context.Background(), path) }

// OpenContext is Open that stops waiting for the lock, another process
// holding it, when ctx is done, and then returns ctx's error.
func OpenContext(ctx context.Context, path string) (*Log, error) {
	return open(ctx, path, (*os.File).Sync)
}

// open is OpenContext with the function that fsyncs a file or directory.
func open(ctx context.Context, path string, sync func(*os.File) error) (*Log, error) {
	f, created, err := openFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	if created {
		if err := syncDir(filepath.Dir(path), sync); err != nil {
			f.Close()
			return nil, fmt.Errorf("audit log %s: %w", inputerr.Name(path), err)
		}
	}
	l := &Log{f: f, path: path, sync: sync}
	err = l.locked(func(f *os.File) error { return lockContext(ctx, f) }, func() error {
		if l.Cut, err = l.cutTorn(); err != nil {
			return err
		}
		_, _, err := l.tail()
		return err
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// openFile opens path for reading and appending, creating it if absent.
// O_NONBLOCK keeps a FIFO in its place from hanging the open.
func openFile(path string) (f *os.File, created bool, err error) {
	const flags = os.O_RDWR | os.O_APPEND | syscall.O_NONBLOCK
	f, err = os.OpenFile(path, flags, 0)
	if errors.Is(err, os.ErrNotExist) {
		f, err = os.OpenFile(path, flags|os.O_CREATE|os.O_EXCL, 0o600)
		created = err == nil
		if errors.Is(err, os.ErrExist) { // another process created it first
			f, err = os.OpenFile(path, flags, 0)
		}
	}
	if err != nil {
		return nil, false, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = &os.PathError{Op: "open", Path: path, Err: fmt.Errorf("not a regular file (%s)", fi.Mode().Type())}
	}
	if err != nil {
		f.Close()
		return nil, false, err
	}
	return f, created, nil
}

func syncDir(dir string, sync func(*os.File) error) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = sync(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Append writes one line per entry, all of them with one write under an
// exclusive lock, so that two processes never interleave, and returns
// once they are fsynced. It reads the log's last line again under the
// lock, since another process may have appended since Open. Nothing is
// written when an entry is refused; a failed write is cut off again
// where it can be, so that the log's end stays intact.
func (l *Log) Append(entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// Once signatures are made, their records are written, however long
	// another process holds the lock: no context.
	return l.locked(lock, func() error {
		if err := l.checkSameFile(); err != nil {
			return err
		}
		prev, size, err := l.tail()
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		now := time.Now()
		for i, e := range entries {
			if e.Time.IsZero() {
				e.Time = now
			}
			e.Time = e.Time.UTC()
			line, err := encode(prev, e)
			if err != nil {
				return fmt.Errorf("audit log %s: entry %d (%s %s): %w", inputerr.Name(l.path), i, inputerr.Name(e.Package), inputerr.Name(e.Path), err)
			}
			buf.Write(line)
			prev = hash(line)
		}
		if _, err := l.f.Write(buf.Bytes()); err != nil {
			if terr := l.f.Truncate(size); terr != nil {
				err = fmt.Errorf("%w; and cutting off the partial write failed (%v): repair the log's end", err, terr)
			}
			return fmt.Errorf("audit log %s: %w", inputerr.Name(l.path), err)
		}
		if err := l.sync(l.f); err != nil {
			return fmt.Errorf("audit log %s: fsync: %w", inputerr.Name(l.path), err)
		}
		return nil
	})
}

// checkSameFile refuses to append when the log's name no longer leads to
// the file opened (it was rotated or replaced): the records would go to a
// file nobody reads.
func (l *Log) checkSameFile() error {
	fi, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("audit log %s: %w", inputerr.Name(l.path), err)
	}
	pi, err := os.Stat(l.path)
	if err != nil || !os.SameFile(fi, pi) {
		return fmt.Errorf("audit log %s: no longer the file opened (moved or replaced since): open it again", inputerr.Name(l.path))
	}
	return nil
}

// Close closes the log.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// locked runs fn under an exclusive flock on the log, which take takes
// (lock, or lockContext for a wait that may be given up).
func (l *Log) locked(take func(*os.File) error, fn func() error) error {
	if err := take(l.f); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("audit log %s: waiting for another process's lock: %w", inputerr.Name(l.path), err)
		}
		return fmt.Errorf("audit log %s: lock: %w", inputerr.Name(l.path), err)
	}
	err := fn()
	if uerr := unlock(l.f); err == nil && uerr != nil {
		err = fmt.Errorf("audit log %s: unlock: %w", inputerr.Name(l.path), uerr)
	}
	return err
}

// encode returns the line of e after the line whose hash is prev.
func encode(prev string, e Entry) ([]byte, error) {
	b, err := json.Marshal(record{Prev: prev, Entry: e})
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	if len(b) > MaxLine {
		return nil, fmt.Errorf("its line is %d bytes, more than the %d an audit log line may have", len(b), MaxLine)
	}
	return b, nil
}

// hash is the prev of the line after line.
func hash(line []byte) string {
	h := sha256.Sum256(line)
	return hex.EncodeToString(h[:])
}

// parse parses line, a whole line with its "\n", as a record: strictly,
// and only in the form encode writes, so that a line edited by hand
// (spacing, order, an unknown or repeated member) shows even when it is
// the last one.
func parse(line []byte) (record, error) {
	var r record
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("an empty line")
		}
		return r, fmt.Errorf("not a record: %w", inputerr.Tame(err))
	}
	if !hexdigest.IsSHA256(r.Prev) {
		return r, fmt.Errorf("prev %s is not a SHA-256 (64 lower-case hex digits)", inputerr.Value(r.Prev))
	}
	if again, err := encode(r.Prev, r.Entry); err != nil || !bytes.Equal(again, line) {
		return r, errors.New("not in the form mksigned writes: edited by hand?")
	}
	return r, nil
}
