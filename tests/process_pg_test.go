package tests

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
)

// stateBackend is a kind of --state the process tests run against: state
// returns a new, empty one for a rig in dir.
type stateBackend struct {
	name  string
	state func(t *testing.T, dir string) string
}

var stateBackends = []stateBackend{
	{"dir", func(t *testing.T, dir string) string { return filepath.Join(dir, "state") }},
	{"postgres", func(t *testing.T, dir string) string { return testutil.Postgres(t) }},
}

// forStates runs test for each kind of state, as parallel subtests.
func forStates(t *testing.T, test func(t *testing.T, b stateBackend)) {
	for _, b := range stateBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b)
		})
	}
}

// The PostgreSQL server stopped (immediate shutdown: every connection
// cut) while a job is signed: the run exits non-zero without recording
// the job done, and once the server is back a run completes everything,
// signing nothing twice.
func TestProcessPostgresLost(t *testing.T) {
	t.Parallel()
	c := testutil.NewPGCluster(t)
	r := newProcessRig(t, 2)
	r.state = c.NewDatabase(t)
	cmd, lines := stderrLines(t, r, nil, "--once")
	waitLine(t, lines, "signing ")
	c.Stop()
	if code := waitExit(t, cmd, lines); code == 0 {
		t.Fatalf("the run that lost its state: exit 0, want non-zero")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	st := r.status(t)
	if len(st.Done) == len(r.outputs) {
		t.Fatalf("status after the server was lost: %+v, want jobs left", st)
	}
	s, res := r.once(t)
	if res.code != 0 || len(s.Failed) != 0 || len(s.Processed)+len(s.Skipped) != len(r.outputs) {
		t.Fatalf("the run after: exit %d, %+v\n%s", res.code, s, res.stderr)
	}
	t.Logf("the run after: %d processed (%d resumed), %d skipped", len(s.Processed), countResumed(s), len(s.Skipped))
	checkOutputs(t, r.out, r.outputs)
	if st := r.status(t); len(st.Done) != len(r.outputs) || len(st.Claimed) != 0 {
		t.Errorf("final status: %+v, want all done", st)
	}
	// Signed once: a job whose output the lost run committed is resumed,
	// not signed again under a second attempt.
	requesters, _ := auditEntries(t, r.audit)
	outputs := committedSignatures(t, r.out, r.outputs)
	_, sigs := auditEntries(t, r.audit)
	for _, sum := range outputs {
		if !sigs[sum] {
			t.Errorf("a committed signature (sha256 %s) is not in the audit log", sum)
		}
	}
	for v, reqs := range requesters {
		attempts := map[string]bool{}
		for _, q := range reqs {
			attempts[q[strings.LastIndex(q, "attempt "):]] = true
		}
		if len(attempts) != 1 {
			t.Errorf("%s signed under %d attempts (%v): signed twice", v, len(attempts), reqs)
		}
	}
}

// An unreachable or refusing server is a clear error, in bounded time,
// naming the state without its password, and nothing is written.
func TestProcessPostgresBad(t *testing.T) {
	t.Parallel()
	c := testutil.SharedPGCluster(t)
	db := c.CreateDatabase(t, testutil.PGPasswordUser)
	silent := testutil.SilentServer(t)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	const pw = "Hunter2-not-printed"
	r := newProcessRig(t, 0)
	for _, tc := range []struct{ name, state, want string }{
		{"nothing listening", fmt.Sprintf("postgres://u:%s@%s/db?sslmode=disable", pw, closedAddr),
			fmt.Sprintf("state postgres://u:xxxxx@%s/db?sslmode=disable: connecting: ", closedAddr)},
		{"silent server", fmt.Sprintf("postgresql://u:%s@%s/db?sslmode=disable&connect_timeout=2", pw, silent),
			fmt.Sprintf("state postgresql://u:xxxxx@%s/db?sslmode=disable&connect_timeout=2: connecting: ", silent)},
		{"wrong password", c.URL(testutil.PGPasswordUser, pw, db), "password authentication failed"},
		{"no such database", c.URL(testutil.PGUser, pw, "nosuchdb"), `database "nosuchdb" does not exist`},
	} {
		for _, args := range [][]string{r.args("--once"), {"process", "--status", "--state", tc.state}} {
			args = append([]string{}, args...)
			for i := range args {
				if args[i] == "--state" {
					args[i+1] = tc.state
				}
			}
			start := time.Now()
			res := mksigned(t, r.dir, nil, args...)
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("%s: the error took %v", tc.name, d)
			}
			if res.code != 1 || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("%s (%s): exit %d, stderr %q; want 1 and %q", tc.name, args[1], res.code, res.stderr, tc.want)
			}
			if strings.Contains(res.stderr+res.stdout, pw) {
				t.Errorf("%s: the password is printed:\n%s%s", tc.name, res.stdout, res.stderr)
			}
		}
	}
	// --status changes nothing: an empty database is not a state.
	res := mksigned(t, r.dir, nil, "process", "--status", "--state", c.NewDatabase(t))
	if res.code != 1 || !strings.Contains(res.stderr, "not a mksigned state: it has no table mksigned_schema") {
		t.Errorf("--status of an empty database: exit %d, stderr %q", res.code, res.stderr)
	}
	if _, err := os.Stat(r.out); err == nil {
		t.Errorf("output %s made", r.out)
	}
}
