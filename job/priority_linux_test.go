package job

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// niceOf returns the nice value of the thread tid of this process, as the
// kernel reports it in /proc.
func niceOf(tid int) (int, error) {
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Field 19 is nice; fields start after the parenthesised command name.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	return strconv.Atoi(f[16])
}

// Package initialisation runs on the main thread, where lowerPriority
// must do nothing.
var onMain = func() (r struct {
	lowered, main bool
	before, after int
	err           error
}) {
	tid := syscall.Gettid()
	r.main = tid == syscall.Getpid()
	if r.before, r.err = niceOf(tid); r.err != nil {
		return r
	}
	r.lowered = lowerPriority()
	r.after, r.err = niceOf(tid)
	return r
}()

func TestLowerPriorityNotOnMainThread(t *testing.T) {
	r := onMain
	if r.err != nil || !r.main {
		t.Fatalf("package init: main thread %v, %v", r.main, r.err)
	}
	if r.lowered || r.after != r.before {
		t.Errorf("on the main thread lowerPriority = %v, nice %d to %d; want false and unchanged", r.lowered, r.before, r.after)
	}
}

// TestLowerPriority: a worker's thread runs at workerNice below where it
// started, and ends with the worker, so that no other goroutine inherits
// the lowered priority.
func TestLowerPriority(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self := syscall.Gettid()
	before, err := niceOf(self)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		lowered bool
		tid     int
		nice    int
		err     error
	}
	var r result
	// A new goroutine may start on the main thread, where lowerPriority
	// declines: try again on another. The goroutine stays locked to the
	// thread lowerPriority looked at until it has read tid and nice (where
	// lowerPriority declines it unlocks, and the goroutine could move
	// before Gettid); on the main thread it then holds it until the test
	// ends, or the runtime would hand the idle main thread to every try.
	hold := make(chan struct{})
	defer close(hold)
	for range 20 {
		ch := make(chan result)
		go func() {
			runtime.LockOSThread()
			var r result
			r.lowered = lowerPriority()
			r.tid = syscall.Gettid()
			r.nice, r.err = niceOf(r.tid)
			ch <- r
			if !r.lowered {
				<-hold
				runtime.UnlockOSThread()
			}
		}()
		if r = <-ch; r.err != nil {
			t.Fatal(r.err)
		}
		if r.tid != syscall.Getpid() {
			break
		}
	}
	if !r.lowered {
		t.Fatal("lowerPriority did not lower the priority")
	}
	if want := min(before+workerNice, 19); r.nice != want {
		t.Errorf("worker thread's nice = %d, want %d", r.nice, want)
	}
	if got, err := niceOf(self); err != nil || got != before {
		t.Errorf("this thread's nice changed from %d to %d (%v)", before, got, err)
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

// TestProcs: readers get Ps beside the workers.
func TestProcs(t *testing.T) {
	for _, c := range []struct{ jobs, pkgs, want int }{{2, 1, 3}, {2, 3, 4}, {4, 3, 7}, {1, 1, 2}} {
		if got := Procs(c.jobs, c.pkgs); got != c.want {
			t.Errorf("Procs(%d, %d) = %d, want %d", c.jobs, c.pkgs, got, c.want)
		}
	}
	if got := Procs(0, 1); got != runtime.NumCPU()+1 {
		t.Errorf("Procs(0, 1) = %d, want NumCPU+1 = %d", got, runtime.NumCPU()+1)
	}
}
