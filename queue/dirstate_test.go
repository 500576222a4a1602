package queue

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/inputerr"
)

func sha(c byte) string { return strings.Repeat(string(c), 64) }

func openState(t *testing.T, dir string) *DirState {
	t.Helper()
	s, err := OpenDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var keyA = Key{Name: "fwupd-amd64-signed-template", Version: "1:1.4-1", SHA256: sha('a')}

func TestClaimDoneOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openState(t, filepath.Join(t.TempDir(), "state"))
	c, err := s.Claim(ctx, keyA, "fwupd-amd64-signed_1.4+1", ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Previous(); got != "" {
		t.Errorf("Previous of a new job: got %q, want \"\"", got)
	}
	// A second open of the state, as another process would have.
	other := openState(t, s.dir)
	if _, err := other.Claim(ctx, keyA, "fwupd-amd64-signed_1.4+1", ClaimOptions{}); !errors.Is(err, ErrBusy) {
		t.Fatalf("Claim of a held job: got %v, want ErrBusy", err)
	}
	if err := c.Done(ctx); err != nil {
		t.Fatal(err)
	}
	for _, st := range []*DirState{s, other} {
		_, err := st.Claim(ctx, keyA, "fwupd-amd64-signed_1.4+1", ClaimOptions{RetryFailed: true})
		if !errors.Is(err, ErrDone) {
			t.Fatalf("Claim of a done job: got %v, want ErrDone", err)
		}
	}
	r, err := other.Get(ctx, keyA)
	if err != nil || r == nil || r.State != StateDone || r.Attempts != 1 {
		t.Fatalf("Get: got %+v, %v; want done after 1 attempt", r, err)
	}
}

func TestClaimOfDeadRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openState(t, filepath.Join(t.TempDir(), "state"))
	c, err := s.Claim(ctx, keyA, "out_1", ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Release() // as the kernel does when the process dies
	recs, err := s.Records(ctx)
	if err != nil || len(recs) != 1 || recs[0].State != StateClaimed || recs[0].Held {
		t.Fatalf("Records after a dead run: got %+v, %v; want one claimed, not held", recs, err)
	}
	c2, err := openState(t, s.dir).Claim(ctx, keyA, "out_1", ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c2.Previous() != StateClaimed || c2.Record().Attempts != 2 {
		t.Errorf("resumed claim: got previous %q, attempts %d; want claimed, 2", c2.Previous(), c2.Record().Attempts)
	}
	recs, _ = s.Records(ctx)
	if len(recs) != 1 || !recs[0].Held {
		t.Errorf("Records while held: got %+v, want held", recs)
	}
	if err := c2.Fail(ctx, "boom"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, keyA, "out_1", ClaimOptions{}); !errors.Is(err, ErrFailed) {
		t.Fatalf("Claim of a failed job: got %v, want ErrFailed", err)
	}
	if r, ok := RecordOf(func() error { _, err := s.Claim(ctx, keyA, "out_1", ClaimOptions{}); return err }()); !ok || r.Reason != "boom" {
		t.Errorf("RecordOf: got %+v, %v; want reason boom", r, ok)
	}
	c3, err := s.Claim(ctx, keyA, "out_1", ClaimOptions{RetryFailed: true})
	if err != nil {
		t.Fatalf("Claim with RetryFailed: %v", err)
	}
	if c3.Record().Attempts != 3 {
		t.Errorf("attempts: got %d, want 3", c3.Record().Attempts)
	}
	c3.Release()
}

func TestClaimConflicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openState(t, filepath.Join(t.TempDir(), "state"))
	c, err := s.Claim(ctx, keyA, "out_1", ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Done(ctx)
	otherBytes := keyA
	otherBytes.SHA256 = sha('b')
	otherTemplate := Key{Name: "other-signed-template", Version: "1", SHA256: sha('c')}
	for _, tc := range []struct {
		name   string
		key    Key
		output string
		want   string
	}{
		{"same version, other bytes", otherBytes, "out_2", "was seen before with other bytes"},
		{"output of another job", otherTemplate, "out_1", "its output out_1 is that of fwupd-amd64-signed-template 1:1.4-1"},
	} {
		_, err := s.Claim(ctx, tc.key, tc.output, ClaimOptions{})
		var ce *ConflictError
		if !errors.As(err, &ce) || !strings.Contains(ce.Reason, tc.want) {
			t.Errorf("%s: got %v, want a ConflictError saying %q", tc.name, err, tc.want)
			continue
		}
		// Recorded: the next pass sees the failure, with its reason.
		r, err := s.Get(ctx, tc.key)
		if err != nil || r == nil || r.State != StateFailed || !strings.Contains(r.Reason, tc.want) {
			t.Errorf("%s: recorded %+v, %v; want failed saying %q", tc.name, r, err, tc.want)
		}
	}
	// The first job stands.
	if _, err := s.Claim(ctx, keyA, "out_1", ClaimOptions{}); !errors.Is(err, ErrDone) {
		t.Errorf("first job after the conflicts: got %v, want ErrDone", err)
	}
}

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
