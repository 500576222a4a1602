package job

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// pool is the workers that sign (or check) the listed files the readers
// queue. There are never more than its size at work at once, so that
// --jobs N bounds the concurrent Sign calls, which an HSM's session limit
// needs.
//
// While packages are read, workers sign at a lower CPU priority than the
// readers (and the xz programs) that feed them: decoding is the critical
// path, and signing catches up from the queue. Once reading is over
// (readingDone) each finishes the file in hand and leaves (its thread ends
// with it), and a worker at the normal priority takes its place to sign
// the rest: on a busy machine, signing then gets its fair share again.
type pool struct {
	q           *queue
	wg          sync.WaitGroup
	readersDone chan struct{}
}

// startPool starts n workers calling handle on each task of q until q's
// channel is closed (finish).
func startPool(n int, q *queue, handle func(task)) *pool {
	p := &pool{q: q, readersDone: make(chan struct{})}
	drain := func() {
		for t := range q.ch {
			handle(t)
		}
	}
	lowered := func() {
		for {
			select {
			case <-p.readersDone:
				return
			default:
			}
			select {
			case t, ok := <-q.ch:
				if !ok {
					return
				}
				handle(t)
			case <-p.readersDone:
				return
			}
		}
	}
	for range n {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if !lowerPriority() {
				drain()
				return
			}
			lowered()
			p.wg.Add(1) // before this worker's Done: Wait cannot return in between
			go func() {
				defer p.wg.Done()
				drain()
			}()
		}()
	}
	return p
}

// finish says that nothing more will be queued (every reader has
// returned), and waits until the workers have handled what is queued.
func (p *pool) finish() {
	close(p.readersDone)
	close(p.q.ch)
	p.wg.Wait()
}

// firstError is what ends a run: the first error reported, which is the
// one the run returns (later ones are often its consequences), and
// whether the run is to stop, on an error or when cancelled. It is safe
// for concurrent use.
type firstError struct {
	mu     sync.Mutex
	err    error
	halted atomic.Bool
	cancel func() // if set, called by set: stops the readers mid-read
}

// set records err unless an error came before it, and stops the run.
func (f *firstError) set(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
	f.halted.Store(true)
	if f.cancel != nil {
		f.cancel()
	}
}

// halt stops the run without an error: ctx was cancelled.
func (f *firstError) halt() { f.halted.Store(true) }

// stopped reports whether the run is to stop.
func (f *firstError) stopped() bool { return f.halted.Load() }

// get returns the first error set, or nil.
func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Procs is how many Ps (runtime.GOMAXPROCS) Generate with jobs workers
// and the given number of packages wants: while reading, a worker's
// thread that the kernel has set aside for a reader still holds its P,
// so the readers need Ps of their own. Without them they waited for a
// worker to be preempted, and the xz program behind them stalled on a
// full pipe. It is at least runtime.NumCPU() when jobs is 0.
func Procs(jobs, packages int) int {
	jobs = jobCount(jobs)
	if !canLowerPriority {
		return jobs
	}
	return jobs + min(jobs, packages)
}

// MaxJobs bounds GenerateOptions.Jobs. Each worker holds a thread of its
// own while packages are read, beside a P per reader (Procs): at 9,000
// jobs the Go runtime ran out of threads (its limit is 10,000) and the
// process died with a stack dump. No machine has that many CPUs to
// sign on.
const MaxJobs = 1024

// jobCount is how many workers Jobs asks for: one per CPU for 0, at most
// MaxJobs.
func jobCount(jobs int) int {
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	return min(jobs, MaxJobs)
}

// workerNice is how much lower than the readers' the workers' CPU
// priority is. Decoding is the critical path: the xz program decodes
// 4,000 modules (56 MB of xz) in about 3.4 s, while their signing can
// catch up from the queue. At equal priority the kernel gave xz a third of
// two CPUs beside two signing threads, and the run took 6.5-7.7 s; with
// the workers at nice +10 it takes 4.8-5.7 s (bench/modules.sh; +5 gave
// 5.6-5.9 s, +19 5.3-5.4 s). Lowered for the whole run, signing would get
// a tenth of a CPU against each busy process of a shared build machine,
// hence the normal-priority workers once reading is over; leaving one CPU
// to the readers instead of lowering anything was about 5% slower.
const workerNice = 10

// queueBytes is how much file data may wait between readers and workers.
// Without a queue, decoding stopped whenever every worker was busy, and
// decoding and signing took turns more than they overlapped (for 4,000
// modules on 2 CPUs, 7.1 s against 6.7 s with the queue, when modules
// were still held whole). Digests of streamed files take no room here;
// the channel's capacity bounds how many wait.
const queueBytes = 8 << 20

// queue hands listed files from readers to workers. It holds up to
// queueBytes of file data, or one file however large, so memory stays
// bounded by that plus one file per worker.
type queue struct {
	ch   chan task
	mu   sync.Mutex
	cond *sync.Cond
	used int64
}

// newQueue returns a queue for n listed files: its channel holds them
// all, so that digests, which take no room, never wait.
func newQueue(n int) *queue {
	q := &queue{ch: make(chan task, max(n, 1))}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// put waits until t fits, then queues it. A digest takes no room and
// never waits.
func (q *queue) put(t task) {
	n := int64(len(t.data))
	q.mu.Lock()
	for n > 0 && q.used > 0 && q.used+n > queueBytes {
		q.cond.Wait()
	}
	q.used += n
	q.mu.Unlock()
	q.ch <- t
}

// done gives back t's room, once a worker has finished with it.
func (q *queue) done(t task) {
	q.mu.Lock()
	q.used -= int64(len(t.data))
	q.mu.Unlock()
	q.cond.Broadcast()
}
