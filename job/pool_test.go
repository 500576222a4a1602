package job

import (
	"context"
	"crypto"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
	"github.com/mksigned/mksigned/sign"
)

// hookSigner signs with an ECDSA test key, calling hook first with the
// number of the call (from 1); an error from hook is Sign's.
type hookSigner struct {
	crypto.Signer
	hook  func(n int) error
	calls atomic.Int32
}

func (s *hookSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := s.hook(int(s.calls.Add(1))); err != nil {
		return nil, err
	}
	return s.Signer.Sign(r, digest, opts)
}

// poolRun prepares a run that signs n modules of one package with jobs
// workers and the given hook, and runs it.
func poolRun(t *testing.T, ctx context.Context, n, jobs int, hook func(n int) error) (*hookSigner, error) {
	t.Helper()
	files, listed := testModules(t, n)
	key := testutil.NewKey(t, 0)
	s := &hookSigner{Signer: key.Signer, hook: hook}
	opts := GenerateOptions{
		Template: writeTestTemplate(t, "debhelper-compat (= 13)", listed...),
		Unsigned: []string{writeTestDeb(t, files...)},
		Key:      &sign.Key{Signer: s, Cert: key.Cert},
		Jobs:     jobs,
	}
	r, debs, err := prepare(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	src, err := opts.source(r)
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- r.run(ctx, opts.collect(src), debs, nil) }()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("run still running after a minute")
	}
	if err == nil {
		for _, it := range r.Items {
			if it.Sig == nil {
				t.Errorf("run succeeded but %s has no signature", it.File.Path)
			}
		}
	}
	return s, err
}

// TestRunJobsBound: with --jobs N, at most N files are signed at once,
// also while the workers that sign during reading hand over to those that
// sign the rest; and N are.
func TestRunJobsBound(t *testing.T) {
	for _, jobs := range []int{1, 2, 3} {
		var mu sync.Mutex
		inFlight, most := 0, 0
		_, err := poolRun(t, context.Background(), 8*jobs, jobs, func(int) error {
			mu.Lock()
			inFlight++
			most = max(most, inFlight)
			mu.Unlock()
			time.Sleep(30 * time.Millisecond)
			mu.Lock()
			inFlight--
			mu.Unlock()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if most != jobs {
			t.Errorf("--jobs %d: up to %d files signed at once, want %d", jobs, most, jobs)
		}
	}
}

// TestRunFirstErrorStops: a failing signature ends the run with its
// error, and few files are signed after it: those in hand, and any the
// other worker begins before the failing one has recorded its error.
func TestRunFirstErrorStops(t *testing.T) {
	errSign := errors.New("the signer failed")
	const n = 24
	s, err := poolRun(t, context.Background(), n, 2, func(n int) error {
		time.Sleep(10 * time.Millisecond)
		if n == 1 {
			return errSign
		}
		return nil
	})
	if !errors.Is(err, errSign) {
		t.Errorf("run returned %v, want the signer's error", err)
	}
	if got := s.calls.Load(); got > n/4 {
		t.Errorf("%d of %d files were signed: the run went on after the first error", got, n)
	}
}

// TestRunCancel: cancelling the context stops the run, which returns
// context.Canceled and signs little more than the files in hand.
func TestRunCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	go func() {
		<-started
		cancel()
		close(release)
	}()
	const n = 24
	s, err := poolRun(t, ctx, n, 2, func(int) error {
		once.Do(func() { close(started) })
		<-release
		time.Sleep(20 * time.Millisecond)
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("run returned %v, want context.Canceled", err)
	}
	// context.AfterFunc stops the run from a goroutine of its own, so a
	// signature or two may begin after cancel returns; not most of them.
	if got := s.calls.Load(); got > n/4 {
		t.Errorf("%d of %d files were signed after the run was cancelled", got, n)
	}
}

// TestQueueRoom: the queue holds up to queueBytes of file data, or one
// file however large; a put that does not fit waits until a worker is
// done with enough; digests take no room.
func TestQueueRoom(t *testing.T) {
	q := newQueue(8)
	put := func(n int) <-chan struct{} {
		ch := make(chan struct{})
		go func() {
			q.put(task{data: make([]byte, n)})
			close(ch)
		}()
		return ch
	}
	// waits says whether a put is still waiting after a while; a put
	// that should not wait gets 10 s to show it (a loaded machine, -race),
	// one that should wait 100 ms to show it does not.
	wait := func(ch <-chan struct{}, d time.Duration) bool {
		select {
		case <-ch:
			return false
		case <-time.After(d):
			return true
		}
	}
	waits := func(ch <-chan struct{}) bool { return wait(ch, 100*time.Millisecond) }
	stuck := func(ch <-chan struct{}) bool { return wait(ch, 10*time.Second) }
	big := put(queueBytes + 1) // alone in an empty queue: fits
	if stuck(big) {
		t.Fatal("a file larger than queueBytes waits in an empty queue")
	}
	digest := make(chan struct{})
	go func() { q.put(task{digest: []byte{1}}); close(digest) }()
	if stuck(digest) {
		t.Fatal("a digest waits for room")
	}
	small := put(1)
	if !waits(small) {
		t.Fatal("a put did not wait though the queue held more than queueBytes")
	}
	first := <-q.ch
	if len(first.data) != queueBytes+1 {
		t.Fatalf("first task holds %d bytes, want %d", len(first.data), queueBytes+1)
	}
	<-q.ch // the digest
	q.done(first)
	if stuck(small) {
		t.Fatal("a put still waits after the queue was emptied")
	}
	// Half and half fits; one byte more waits until a half is done.
	second := <-q.ch
	q.done(second)
	h1, h2 := put(queueBytes/2), put(queueBytes/2)
	if stuck(h1) || stuck(h2) {
		t.Fatal("two halves of queueBytes do not fit together")
	}
	extra := put(1)
	if !waits(extra) {
		t.Fatal("a put did not wait though the queue held queueBytes")
	}
	q.done(<-q.ch)
	if stuck(extra) {
		t.Error("a put still waits after room was given back")
	}
}

// TestFirstError: the first error set is the one kept, later ones do not
// replace it, and either an error or a halt stops the run.
func TestFirstError(t *testing.T) {
	a, b := errors.New("a"), errors.New("b")
	var f firstError
	if f.stopped() || f.get() != nil {
		t.Fatalf("new firstError: stopped %v, error %v; want false, nil", f.stopped(), f.get())
	}
	f.set(a)
	f.set(b)
	if got := f.get(); got != a {
		t.Errorf("after set(a), set(b): %v, want a", got)
	}
	if !f.stopped() {
		t.Error("an error did not stop the run")
	}
	var h firstError
	h.halt()
	if !h.stopped() || h.get() != nil {
		t.Errorf("after halt: stopped %v, error %v; want true, nil", h.stopped(), h.get())
	}
	h.set(b) // an error after the run was cancelled is still reported
	if got := h.get(); got != b {
		t.Errorf("set after halt: %v, want b", got)
	}
}

// TestJobsBounded: Jobs beyond MaxJobs runs MaxJobs workers. 9,000 used
// to start 9,000 threads, and the runtime died of thread exhaustion.
func TestJobsBounded(t *testing.T) {
	t.Parallel()
	want := MaxJobs
	if canLowerPriority {
		want += 3
	}
	if got := Procs(9000, 3); got != want {
		t.Errorf("Procs(9000, 3) = %d, want %d", got, want)
	}
	if _, err := poolRun(t, context.Background(), 4, 9000, func(int) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

// TestPoolBound drives the pool alone: every task queued is handled once,
// and never more than its size at once, while reading and across the
// hand-over from the lowered workers to the normal ones at finish.
func TestPoolBound(t *testing.T) {
	for _, n := range []int{1, 2, 5} {
		const tasks = 200
		q := newQueue(tasks)
		var (
			mu        sync.Mutex
			now, most int
			handled   = map[*Item]int{}
			items     = make([]*Item, tasks)
			release   = make(chan struct{})
		)
		p := startPool(n, q, func(tk task) {
			mu.Lock()
			now++
			most = max(most, now)
			handled[tk.it]++
			mu.Unlock()
			<-release
			mu.Lock()
			now--
			mu.Unlock()
		})
		for i := range items {
			items[i] = &Item{}
			q.put(task{it: items[i]})
		}
		// Every worker takes a task and blocks; then reading ends while
		// they hold them, and only then are they let go.
		time.Sleep(50 * time.Millisecond)
		finished := make(chan struct{})
		go func() { p.finish(); close(finished) }()
		time.Sleep(20 * time.Millisecond)
		close(release)
		<-finished
		if most > n {
			t.Errorf("pool of %d: %d tasks handled at once", n, most)
		}
		for i, it := range items {
			if handled[it] != 1 {
				t.Fatalf("pool of %d: task %d handled %d times", n, i, handled[it])
			}
		}
	}
}
