package queue

// DirState's own tests; the State tests it shares with PgState are in
// state_test.go.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/inputerr"
)

func TestBadState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	done := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "state")
		s := openState(t, dir)
		c, err := s.Claim(ctx, keyA, "out_1", ClaimOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c.Done(ctx)
		return dir
	}
	record := func(dir string) string { return (&DirState{dir: dir}).recordPath(keyA) }
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, dir string)
		open  string // the error of OpenDir, or "" if it opens
		claim string // the error of Claim
	}{
		{"truncated record", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(record(dir))
			os.WriteFile(record(dir), b[:len(b)/2], 0o600)
		}, "", "corrupt state record"},
		{"empty record", func(t *testing.T, dir string) { os.WriteFile(record(dir), nil, 0o600) }, "", "corrupt state record"},
		{"record of another job", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(record(dir))
			os.WriteFile(record(dir), []byte(strings.Replace(string(b), sha('a'), sha('d'), 1)), 0o600)
		}, "", "not those its file name says"},
		{"unknown state", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(record(dir))
			os.WriteFile(record(dir), []byte(strings.Replace(string(b), `"done"`, `"signed"`, 1)), 0o600)
		}, "", `state "signed"`},
		{"newer format", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, "format"), []byte("2\n"), 0o600) },
			"format 2, and this mksigned reads format 1", ""},
		{"format not a number", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, "format"), []byte("x"), 0o600) },
			"not a format number", ""},
		{"no format file", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "format")) },
			"not a mksigned state directory", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := done(t)
			tc.spoil(t, dir)
			before, _ := os.ReadFile(record(dir))
			s, err := OpenDir(ctx, dir)
			if tc.open != "" {
				if err == nil || !strings.Contains(err.Error(), tc.open) {
					t.Fatalf("OpenDir: got %v, want %q", err, tc.open)
				}
				if tc.name == "newer format" && !errors.Is(err, ErrNewerFormat) {
					t.Errorf("OpenDir: got %v, want ErrNewerFormat", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, err = s.Claim(ctx, keyA, "out_1", ClaimOptions{RetryFailed: true})
			var ie *inputerr.Error
			if !errors.As(err, &ie) || ie.File != record(dir) || !strings.Contains(err.Error(), tc.claim) {
				t.Fatalf("Claim: got %v, want an error naming %s and saying %q", err, record(dir), tc.claim)
			}
			if _, err := s.Records(ctx); err == nil {
				t.Errorf("Records: no error, want the corrupt record's")
			}
			// Nothing lost: the record is left for someone to look at.
			if after, _ := os.ReadFile(record(dir)); string(after) != string(before) {
				t.Errorf("the corrupt record was changed: %q, was %q", after, before)
			}
		})
	}
}

// A write killed half way leaves a temporary file, which the next open
// removes; the records stand.
func TestOpenRemovesTemporary(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "state")
	s := openState(t, dir)
	c, err := s.Claim(ctx, keyA, "out_1", ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Done(ctx)
	stale := []string{
		filepath.Join(dir, ".summary.json.tmp-0123456789ab"),
		filepath.Join(s.jobDir(keyA), "."+keyA.SHA256+".json.tmp-0123456789ab"),
		filepath.Join(dir, "outputs", ".out_1.tmp-0123456789ab"),
	}
	for _, f := range stale {
		if err := os.WriteFile(f, []byte("{half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s2 := openState(t, dir)
	for _, f := range stale {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s is left", f)
		}
	}
	if r, err := s2.Get(ctx, keyA); err != nil || r == nil || r.State != StateDone {
		t.Errorf("the record after the clean-up: %+v, %v; want done", r, err)
	}
}

// A FIFO in place of a record (or of the format file) is refused at
// once: opened blocking, it would hang the run, holding STATE/lock, past
// SIGTERM.
func TestStateFIFO(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, name := range []string{"record", "format", "summary"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "state")
			s := openState(t, dir)
			c, err := s.Claim(ctx, keyA, "out_1", ClaimOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c.Done(ctx)
			p := map[string]string{"record": s.recordPath(keyA), "format": filepath.Join(dir, "format"),
				"summary": filepath.Join(dir, "summary.json")}[name]
			os.Remove(p)
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				switch name {
				case "record":
					_, err := s.Get(ctx, keyA)
					done <- err
				case "format":
					s, err := OpenDir(ctx, dir)
					if err == nil {
						s.Close()
					}
					done <- err
				default:
					_, err := s.LastSummary(ctx)
					done <- err
				}
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "not a regular file") {
					t.Fatalf("got %v, want an error saying %s is not a regular file", err, p)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("a FIFO in place of the %s hangs the state", name)
			}
		})
	}
}
