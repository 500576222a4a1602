package job

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// threadNice returns the nice value of the thread tid of this process, as
// the kernel reports it in /proc.
func threadNice(t *testing.T, tid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// Field 19 is nice; fields start after the parenthesised command name.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	n, err := strconv.Atoi(f[16])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLowerPriority: a worker's thread runs at workerNice below where it
// started, and ends with the worker, so that no other goroutine inherits
// the lowered priority.
func TestLowerPriority(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadNice(t, syscall.Gettid())
	type result struct{ tid, nice int }
	ch := make(chan result)
	go func() {
		if !lowerPriority() {
			t.Error("lowerPriority did not lower the priority")
		}
		tid := syscall.Gettid()
		ch <- result{tid, threadNice(t, tid)}
	}()
	r := <-ch
	if want := min(before+workerNice, 19); r.nice != want {
		t.Errorf("worker thread's nice = %d, want %d", r.nice, want)
	}
	if got := threadNice(t, syscall.Gettid()); got != before {
		t.Errorf("this thread's nice changed from %d to %d", before, got)
	}
	// The worker has returned while locked, so its thread goes away.
	for range 100 {
		if _, err := os.Stat("/proc/self/task/" + strconv.Itoa(r.tid)); os.IsNotExist(err) {
			return
		}
		runtime.Gosched()
		syscall.Nanosleep(&syscall.Timespec{Nsec: 1e6}, nil)
	}
	t.Errorf("the worker's thread %d outlived it", r.tid)
}
