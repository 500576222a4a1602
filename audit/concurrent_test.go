package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	batches   = 40 // per writer
	batchSize = 3
)

// appendBatches appends batches batches of batchSize entries to l, each
// entry's Requester naming the writer and the batch.
func appendBatches(l *Log, writer string) error {
	for b := range batches {
		if err := l.Append(entries(fmt.Sprintf("%s-b%d", writer, b), batchSize)); err != nil {
			return err
		}
	}
	return nil
}

// checkBatches checks that the log at path is one intact chain holding
// every batch of the writers once, each batch's lines together and in
// order.
func checkBatches(t *testing.T, path string, writers []string) {
	t.Helper()
	want := len(writers) * batches * batchSize
	if n, err := Verify(path); n != want || err != nil {
		t.Fatalf("Verify = %d, %v, want %d, nil", n, err, want)
	}
	seen := map[string]bool{}
	lines := readLines(t, path)
	for i := 0; i < len(lines); i += batchSize {
		first, _ := parse(lines[i])
		for j := range batchSize {
			rec, _ := parse(lines[i+j])
			if rec.Requester != first.Requester || rec.Path != entries("", batchSize)[j].Path {
				t.Fatalf("line %d: %s %s, want %s's entry %d: batches interleaved", i+j+1, rec.Requester, rec.Path, first.Requester, j)
			}
		}
		if seen[first.Requester] {
			t.Fatalf("line %d: batch %s twice", i+1, first.Requester)
		}
		seen[first.Requester] = true
	}
	for _, w := range writers {
		for b := range batches {
			if !seen[fmt.Sprintf("%s-b%d", w, b)] {
				t.Errorf("batch %s-b%d missing", w, b)
			}
		}
	}
}

// Goroutines appending at once, some through one Log and some through
// their own, make one chain.
func TestConcurrentGoroutines(t *testing.T) {
	t.Parallel()
	path := newLog(t, 0)
	shared, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	var writers []string
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		w := fmt.Sprint("g", g)
		writers = append(writers, w)
		wg.Go(func() {
			l := shared
			if g%2 == 1 {
				own, err := Open(path)
				if err != nil {
					errs <- err
					return
				}
				defer own.Close()
				l = own
			}
			errs <- appendBatches(l, w)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	checkBatches(t, path, writers)
}

// helperEnv names the log a re-executed test binary appends to.
const helperEnv = "MKSIGNED_AUDIT_TEST_LOG"

// TestHelperProcess is not a test: TestConcurrentProcesses runs the test
// binary with it as a writer of its own.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("a helper for TestConcurrentProcesses")
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := appendBatches(l, os.Getenv(helperEnv+"_WRITER")); err != nil {
		t.Fatal(err)
	}
}

// Processes appending at once make one chain: the lock holds across
// processes.
func TestConcurrentProcesses(t *testing.T) {
	t.Parallel()
	path := newLog(t, 0)
	var writers []string
	var cmds []*exec.Cmd
	for p := range 4 {
		w := "p" + strconv.Itoa(p)
		writers = append(writers, w)
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"="+path, helperEnv+"_WRITER="+w)
		cmds = append(cmds, cmd)
	}
	outs := make([][]byte, len(cmds))
	errs := make([]error, len(cmds))
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		wg.Go(func() { outs[i], errs[i] = cmd.CombinedOutput() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %s: %v\n%s", writers[i], err, outs[i])
		}
	}
	checkBatches(t, path, writers)
}

// TestOpenContextGivesUp: OpenContext waiting for the lock that another
// open file holds returns once ctx is done, with ctx's error, and writes
// nothing; Open would wait for ever (a blocking flock is restarted after
// a signal, so SIGTERM could not stop sign-request).
func TestOpenContextGivesUp(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.log")
	holder, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if err := lock(holder.f); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		l, err := OpenContext(ctx, path)
		if err == nil {
			l.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("OpenContext returned %v with the lock held elsewhere", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "waiting for another process's lock") {
			t.Errorf("error %v, want context.Canceled, waiting for the lock", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OpenContext still waits for the lock 5s after ctx was cancelled")
	}
	if err := unlock(holder.f); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Errorf("log after giving up: %v, %v; want empty", fi, err)
	}
}
