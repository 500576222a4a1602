package tests

// mksigned process under real signals: SIGKILL at random moments, two
// runs at once, SIGTERM in watch mode and in a --once pass.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startProcess starts mksigned process in the background.
func startProcess(t *testing.T, r *processRig, stdout, stderr io.Writer, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(mksignedBin, r.args(args...)...)
	cmd.Dir = r.dir
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// Killed with SIGKILL at random moments, 20 times, and run again to the
// end: every output is there once and whole, the same bytes as a run
// never interrupted makes, each job is done once, and each signature
// committed is in the audit log.
func TestProcessKill(t *testing.T) {
	t.Parallel()
	forStates(t, testProcessKill)
}

func testProcessKill(t *testing.T, b stateBackend) {
	r := newProcessRig(t, 8)
	r.state = b.state(t, r.dir)
	ref := &processRig{}
	*ref = *r
	ref.out, ref.state, ref.audit = filepath.Join(r.dir, "ref-out"), filepath.Join(r.dir, "ref-state"), filepath.Join(r.dir, "ref-audit.log")
	start := time.Now()
	if s, res := ref.once(t); res.code != 0 || len(s.Processed) != len(r.outputs) {
		t.Fatalf("reference run: exit %d, %+v\n%s", res.code, s, res.stderr)
	}
	whole := time.Since(start)
	seed := uint64(time.Now().UnixNano())
	t.Logf("a whole run takes %v; seed %d", whole, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for i := range 20 {
		logSize := fileSize(r.audit)
		cmd := startProcess(t, r, io.Discard, io.Discard, "--once")
		if i%2 == 0 {
			// Within the first third of a run: most of it is signing
			// and writing, and 20 such kills leave work for the next.
			time.Sleep(time.Duration(rng.Int64N(int64(whole / 3))))
		} else {
			// Right after a job's signatures reach the audit log: the
			// job is claimed, and its output not yet committed. Random
			// times alone can all fall before the first claim on a
			// loaded machine, where starting takes longer than the
			// reference run suggests.
			for deadline := time.Now().Add(2 * whole); fileSize(r.audit) == logSize && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
		if i == 0 {
			// Only for the log: a kill before the state was first
			// written leaves no state to show, which --status refuses.
			out, _ := exec.Command(mksignedBin, "process", "--status", "--state", r.state).CombinedOutput()
			t.Logf("status after the first kill:\n%s", out)
		}
	}
	s, res := r.once(t)
	if res.code != 0 || len(s.Failed) != 0 || len(s.Waiting) != 0 || len(s.Processed)+len(s.Skipped) != len(r.outputs) {
		t.Fatalf("final run: exit %d, %+v\n%s", res.code, s, res.stderr)
	}
	checkOutputs(t, r.out, r.outputs)
	if b.name == "dir" {
		for name := range tree(t, r.state) {
			if strings.Contains(name, ".tmp-") {
				t.Errorf("the state holds a killed run's temporary file %s", name)
			}
		}
	}
	if d := cmpTrees(tree(t, ref.out), tree(t, r.out)); d != "" {
		t.Errorf("the killed runs' output differs from an uninterrupted run's:\n%s", d)
	}
	st := r.status(t)
	if len(st.Done) != len(r.outputs) || len(st.Claimed) != 0 || len(st.Failed) != 0 {
		t.Errorf("status: %+v, want %d done", st, len(r.outputs))
	}
	resumed := 0
	for _, d := range st.Done {
		if d.Attempts > 1 {
			resumed++
		}
	}
	t.Logf("%d of %d jobs took more than one attempt; the final pass processed %d, resumed %d", resumed, len(st.Done), len(s.Processed), countResumed(s))
	if resumed == 0 {
		t.Errorf("no kill landed while a job was claimed: the test tested nothing")
	}
	_, sigs := auditEntries(t, r.audit)
	for _, sum := range committedSignatures(t, r.out, r.outputs) {
		if !sigs[sum] {
			t.Errorf("a committed signature (sha256 %s) is not in the audit log", sum)
		}
	}
	// And once more: nothing new.
	if s, _ := r.once(t); len(s.Processed) != 0 || len(s.Skipped) != len(r.outputs) {
		t.Errorf("a rerun after the kills: %+v, want all skipped", s)
	}
}

// fileSize is the size of name, 0 if it does not exist.
func fileSize(name string) int64 {
	fi, err := os.Stat(name)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func countResumed(s processSummary) int {
	n := 0
	for _, it := range s.Processed {
		if it.Resumed {
			n++
		}
	}
	return n
}

// Two runs at once on one state never both take a template: each job is
// processed by one of them, and signed once.
func TestProcessTwoRuns(t *testing.T) {
	t.Parallel()
	forStates(t, testProcessTwoRuns)
}

func testProcessTwoRuns(t *testing.T, b stateBackend) {
	r := newProcessRig(t, 4)
	r.state = b.state(t, r.dir)
	var outs [2]bytes.Buffer
	var errs [2]bytes.Buffer
	var cmds [2]*exec.Cmd
	for i := range cmds {
		cmds[i] = startProcess(t, r, &outs[i], &errs[i], "--once", "--json")
	}
	by := map[string][]int{}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, errs[i].String())
		}
		var s processSummary
		if err := json.Unmarshal(outs[i].Bytes(), &s); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		for _, it := range s.Processed {
			by[it.Output] = append(by[it.Output], i)
		}
		t.Logf("run %d: %d processed, %d skipped", i, len(s.Processed), len(s.Skipped))
	}
	for _, o := range r.outputs {
		if len(by[o]) != 1 {
			t.Errorf("%s processed by runs %v, want exactly one", o, by[o])
		}
	}
	checkOutputs(t, r.out, r.outputs)
	requesters, _ := auditEntries(t, r.audit)
	if len(requesters) != len(r.outputs) {
		t.Errorf("the audit log has signatures of %d template versions, want %d", len(requesters), len(r.outputs))
	}
	for v, reqs := range requesters {
		for _, q := range reqs {
			if !strings.HasSuffix(q, ", attempt 1)") {
				t.Errorf("%s: audit requester %q, want attempt 1 only: signed twice", v, q)
			}
		}
	}
	// Each file of a job signed once.
	log, _ := os.ReadFile(r.audit)
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(string(log), "\n"), "\n") {
		var e struct{ Template, TemplateVersion, Package, Path string }
		json.Unmarshal([]byte(strings.ReplaceAll(line, `"template_version"`, `"TemplateVersion"`)), &e)
		k := e.Template + " " + e.TemplateVersion + " " + e.Package + " " + e.Path
		if seen[k] {
			t.Errorf("signed twice: %s", k)
		}
		seen[k] = true
	}
}

// stderrLines starts cmd with its stderr read line by line into a
// channel, closed when cmd's stderr ends.
func stderrLines(t *testing.T, r *processRig, stdout io.Writer, args ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	pr, pw := io.Pipe()
	cmd := startProcess(t, r, stdout, pw, args...)
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	go func() {
		cmd.Wait()
		pw.Close()
	}()
	return cmd, lines
}

// waitLine waits for a line starting with prefix, and fails the test if
// none comes in a minute.
func waitLine(t *testing.T, lines <-chan string, prefix string) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("mksigned ended before printing %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return
			}
		case <-deadline:
			t.Fatalf("no %q in a minute", prefix)
		}
	}
}

// waitExit waits for cmd (started by stderrLines) to end, draining its
// lines, and returns its exit status.
func waitExit(t *testing.T, cmd *exec.Cmd, lines <-chan string) int {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		select {
		case _, ok := <-lines:
			if ok {
				continue
			}
			for cmd.ProcessState == nil {
				time.Sleep(10 * time.Millisecond)
			}
			return cmd.ProcessState.ExitCode()
		case <-deadline:
			cmd.Process.Kill()
			t.Fatal("mksigned did not exit within a minute")
		}
	}
}

// Without --once the incoming directory is watched: a template that
// arrives is processed; SIGTERM lets the job in hand finish and exits 0.
// With --poll 1h, only inotify can see the template arrive.
func TestProcessWatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"inotify", []string{"--poll", "1h"}},
		{"polling", []string{"--no-inotify", "--poll", "100ms"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testProcessWatch(t, tc.args)
		})
	}
}

func testProcessWatch(t *testing.T, args []string) {
	r := newProcessRig(t, 2)
	later := filepath.Join(r.dir, "later")
	os.Mkdir(later, 0o755)
	os.Rename(filepath.Join(r.in, shimTemplate), filepath.Join(later, shimTemplate))
	var stdout syncBuffer
	cmd, lines := stderrLines(t, r, &stdout, args...)
	for range 3 { // fwupd and its 2 variants
		waitLine(t, lines, "signing fwupd-amd64-signed-template")
	}
	// As an uploader should: written under another name, then renamed.
	copyFile(t, filepath.Join(later, shimTemplate), filepath.Join(r.in, shimTemplate+".part"))
	if err := os.Rename(filepath.Join(r.in, shimTemplate+".part"), filepath.Join(r.in, shimTemplate)); err != nil {
		t.Fatal(err)
	}
	waitLine(t, lines, "signing shim-helpers-amd64-signed-template")
	// The job is in hand: SIGTERM lets it finish.
	cmd.Process.Signal(syscall.SIGTERM)
	if code := waitExit(t, cmd, lines); code != 0 {
		t.Fatalf("after SIGTERM: exit %d, want 0\n%s", code, stdout.String())
	}
	checkOutputs(t, r.out, r.outputs)
	st := r.status(t)
	if len(st.Done) != 4 || len(st.Claimed) != 0 {
		t.Errorf("status after SIGTERM: %+v, want 4 done", st)
	}
	if n := strings.Count(stdout.String(), "processed shim-helpers-amd64-signed-template"); n != 1 {
		t.Errorf("stdout names shim processed %d times, want once:\n%s", n, stdout.String())
	}
}

// SIGTERM in the middle of a --once pass: the job in hand is finished,
// no other is begun, and the run exits 0; the next run does the rest.
func TestProcessTerm(t *testing.T) {
	t.Parallel()
	forStates(t, testProcessTerm)
}

func testProcessTerm(t *testing.T, b stateBackend) {
	r := newProcessRig(t, 4)
	r.state = b.state(t, r.dir)
	cmd, lines := stderrLines(t, r, io.Discard, "--once")
	waitLine(t, lines, "signing ")
	cmd.Process.Signal(syscall.SIGTERM)
	if code := waitExit(t, cmd, lines); code != 0 {
		t.Fatalf("after SIGTERM: exit %d, want 0", code)
	}
	st := r.status(t)
	if len(st.Claimed) != 0 || len(st.Done) == 0 || len(st.Done) == len(r.outputs) {
		t.Fatalf("status after SIGTERM: %+v, want the job in hand done, and not all", st)
	}
	var done []string
	for _, d := range st.Done {
		done = append(done, d.Output)
	}
	sort.Strings(done)
	checkOutputs(t, r.out, done)
	s, res := r.once(t)
	if res.code != 0 || len(s.Processed) != len(r.outputs)-len(done) || len(s.Skipped) != len(done) {
		t.Fatalf("the run after: exit %d, %+v\n%s", res.code, s, res.stderr)
	}
	checkOutputs(t, r.out, r.outputs)
}

// syncBuffer is a bytes.Buffer safe to write from exec's goroutine while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// SIGTERM lets the job in hand finish, however long it takes; a second
// SIGTERM ends the run at once (here, one whose --sign-with command
// never answers), and the job is left claimed, for the next run.
func TestProcessTermTwice(t *testing.T) {
	t.Parallel()
	r := newProcessRig(t, 0)
	args := []string{"process", "--incoming", r.in, "--output", r.out, "--state", r.state, "--cert", r.cert,
		"--sign-with", "cat >/dev/null; exec sleep 30", "--once"}
	cmd := exec.Command(mksignedBin, args...)
	cmd.Dir = r.dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine(t, lines, "requesting ")
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(time.Second)
	if cmd.ProcessState != nil {
		t.Fatal("the first SIGTERM cut the job in hand")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() {
		for range lines {
		}
		done <- cmd.Wait()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("a second SIGTERM did not end the run")
	}
	if st := r.status(t); len(st.Claimed) != 1 || st.Claimed[0].Held || len(st.Done) != 0 {
		t.Fatalf("status after: %+v, want the job claimed, not held", st)
	}
	checkOutputs(t, r.out, []string{})
}
