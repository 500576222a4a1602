package queue

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// The tests of what every State promises (state.go), run against each:
// DirState and PgState.

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.StopPostgres()
	os.Exit(code)
}

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

// backend is one kind of State the shared tests run against: newState
// makes a new, empty state and returns a function that opens it (again
// and again, as other processes would).
type backend struct {
	name     string
	newState func(t *testing.T) func(t *testing.T) State
}

var backends = []backend{
	{"dir", func(t *testing.T) func(t *testing.T) State {
		dir := filepath.Join(t.TempDir(), "state")
		return func(t *testing.T) State { return openState(t, dir) }
	}},
	{"postgres", func(t *testing.T) func(t *testing.T) State {
		dsn := testutil.Postgres(t)
		return func(t *testing.T) State { return openPostgres(t, dsn) }
	}},
}

func openPostgres(t *testing.T, dsn string) *PgState {
	t.Helper()
	s, err := OpenPostgres(context.Background(), dsn, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// forBackends runs test against every backend, as subtests.
func forBackends(t *testing.T, test func(t *testing.T, open func(t *testing.T) State)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b.newState(t))
		})
	}
}

var keyA = Key{Name: "fwupd-amd64-signed-template", Version: "1:1.4-1", SHA256: sha('a')}

func TestClaimDoneOnce(t *testing.T) {
	t.Parallel()
	forBackends(t, testClaimDoneOnce)
}

func testClaimDoneOnce(t *testing.T, open func(t *testing.T) State) {
	ctx := context.Background()
	s := open(t)
	c, err := s.Claim(ctx, keyA, "fwupd-amd64-signed_1.4+1", ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Previous(); got != "" {
		t.Errorf("Previous of a new job: got %q, want \"\"", got)
	}
	// A second open of the state, as another process would have.
	other := open(t)
	if _, err := other.Claim(ctx, keyA, "fwupd-amd64-signed_1.4+1", ClaimOptions{}); !errors.Is(err, ErrBusy) {
		t.Fatalf("Claim of a held job: got %v, want ErrBusy", err)
	}
	if err := c.Done(ctx); err != nil {
		t.Fatal(err)
	}
	for _, st := range []State{s, other} {
		_, err := st.Claim(ctx, keyA, "fwupd-amd64-signed_1.4+1", ClaimOptions{RetryFailed: true})
		if !errors.Is(err, ErrDone) {
			t.Fatalf("Claim of a done job: got %v, want ErrDone", err)
		}
	}
	r, err := other.Get(ctx, keyA)
	if err != nil || r == nil || r.State != StateDone || r.Attempts != 1 {
		t.Fatalf("Get: got %+v, %v; want done after 1 attempt", r, err)
	}
	if r, err := other.Get(ctx, Key{Name: "none", Version: "1", SHA256: sha('e')}); r != nil || err != nil {
		t.Errorf("Get of no job: got %+v, %v; want nil, nil", r, err)
	}
}

func TestClaimOfDeadRun(t *testing.T) {
	t.Parallel()
	forBackends(t, testClaimOfDeadRun)
}

func testClaimOfDeadRun(t *testing.T, open func(t *testing.T) State) {
	ctx := context.Background()
	s := open(t)
	c, err := s.Claim(ctx, keyA, "out_1", ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Release() // as the kernel (or the server) does when the process dies
	recs, err := s.Records(ctx)
	if err != nil || len(recs) != 1 || recs[0].State != StateClaimed || recs[0].Held {
		t.Fatalf("Records after a dead run: got %+v, %v; want one claimed, not held", recs, err)
	}
	c2, err := open(t).Claim(ctx, keyA, "out_1", ClaimOptions{})
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
	forBackends(t, testClaimConflicts)
}

func testClaimConflicts(t *testing.T, open func(t *testing.T) State) {
	ctx := context.Background()
	s := open(t)
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
	recs, err := s.Records(ctx)
	if err != nil || len(recs) != 3 || recs[0].Key != keyA || recs[1].Key != otherBytes || recs[2].Key != otherTemplate {
		t.Errorf("Records: got %+v, %v; want %v, %v, %v in that order", recs, err, keyA, otherBytes, otherTemplate)
	}
}

func TestSummary(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, open func(t *testing.T) State) {
		ctx := context.Background()
		s := open(t)
		if sum, err := s.LastSummary(ctx); sum != nil || err != nil {
			t.Fatalf("LastSummary of a new state: got %+v, %v; want nil, nil", sum, err)
		}
		for _, n := range []string{"a.deb", "b.deb"} {
			sum := newSummary()
			sum.Processed = append(sum.Processed, Item{File: n, Template: "t", Version: "1", Attempts: 2})
			if err := s.SaveSummary(ctx, sum); err != nil {
				t.Fatal(err)
			}
		}
		sum, err := open(t).LastSummary(ctx)
		if err != nil || sum == nil || len(sum.Processed) != 1 || sum.Processed[0].File != "b.deb" || sum.Processed[0].Attempts != 2 {
			t.Errorf("LastSummary: got %+v, %v; want the second one saved", sum, err)
		}
	})
}

// Many claimers at once, each with its own open state, as many processes
// (or hosts) would be: each job is given to exactly one.
func TestClaimRace(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, open func(t *testing.T) State) {
		ctx := context.Background()
		keys := []Key{keyA, {Name: "b-signed-template", Version: "2", SHA256: sha('b')}, {Name: "c-signed-template", Version: "3", SHA256: sha('c')}}
		const claimers = 6
		states := make([]State, claimers)
		for i := range states {
			states[i] = open(t)
		}
		got := make(chan string, claimers*len(keys))
		errs := make(chan error, claimers*len(keys))
		done := make(chan struct{})
		for _, st := range states {
			go func() {
				defer func() { done <- struct{}{} }()
				for _, k := range keys {
					c, err := st.Claim(ctx, k, "out_"+k.Name, ClaimOptions{})
					if errors.Is(err, ErrBusy) || errors.Is(err, ErrDone) {
						continue
					}
					if err != nil {
						errs <- err
						continue
					}
					got <- k.Name
					if err := c.Done(ctx); err != nil {
						errs <- err
					}
				}
			}()
		}
		for range states {
			<-done
		}
		close(got)
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		n := map[string]int{}
		for k := range got {
			n[k]++
		}
		for _, k := range keys {
			if n[k.Name] != 1 {
				t.Errorf("%s claimed %d times, want once", k, n[k.Name])
			}
		}
	})
}

// Many claimers at once of new jobs that conflict: one name and version
// with other bytes each, or one output for other templates. One of each
// set is claimed, and every other one is a conflict, recorded failed.
func TestConflictRace(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, open func(t *testing.T) State) {
		ctx := context.Background()
		const claimers = 6
		type job struct {
			key    Key
			output string
		}
		var sets [2][claimers]job
		for i := range claimers {
			sets[0][i] = job{Key{Name: "v-signed-template", Version: "1", SHA256: sha(byte('a' + i))}, "v_" + string(rune('a'+i))}
			sets[1][i] = job{Key{Name: "o" + string(rune('a'+i)) + "-signed-template", Version: "1", SHA256: sha('f')}, "o_1"}
		}
		claimed := make(chan Key, 2*claimers)
		errs := make(chan error, 2*claimers)
		done := make(chan struct{})
		for i := range claimers {
			st := open(t)
			go func() {
				defer func() { done <- struct{}{} }()
				for _, set := range sets {
					_, err := st.Claim(ctx, set[i].key, set[i].output, ClaimOptions{})
					var ce *ConflictError
					switch {
					case err == nil:
						claimed <- set[i].key
					case !errors.As(err, &ce):
						errs <- err
					}
				}
			}()
		}
		for range claimers {
			<-done
		}
		close(claimed)
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		n := 0
		for range claimed {
			n++
		}
		if n != 2 {
			t.Errorf("%d claimed, want one of each set", n)
		}
		recs, err := open(t).Records(ctx)
		if err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, r := range recs {
			if r.State == StateFailed {
				failed++
			}
		}
		if len(recs) != 2*claimers || failed != 2*claimers-2 {
			t.Errorf("records: %d, %d of them failed; want %d, %d", len(recs), failed, 2*claimers, 2*claimers-2)
		}
	})
}
