package pkggen

import (
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
)

// Precompressed writes a tarball in the background, and compresses each of
// its xz chunks as soon as the chunk is complete, while the caller is still
// making some of the tree's files: the pending entries, whose data comes
// later through Deliver. The writer waits at each pending entry in tar
// order, so the chunks before it are compressed meanwhile. For a signing
// run, the pending entries are the signatures: the template's files
// (linux's 3.7 MB changelog) are compressed while packages are read, and
// each chunk of signatures once its signatures are made, so little is left
// to compress once the last signature is.
//
// Write, given a Precompressed in Options, takes a chunk from it only when
// the chunk's bytes are identical to its own (by SHA-256), so the output is
// the same with or without it.
type Precompressed struct {
	pending   map[string]chan []byte // by entry name; each holds one delivery
	closed    chan struct{}          // closed by Close: stop now
	closeOnce sync.Once
	done      chan struct{} // the writer and the compressor have ended

	// Written by the compressor, read after done.
	sums [][sha256.Size]byte // of each chunk's tar bytes
	xz   [][]byte            // its xz stream, or nil when compressing failed

	compressed atomic.Int32 // len(xz), for tests to watch progress
}

// errClosed ends the writer at a pending entry once Close was called.
var errClosed = errors.New("precompress: closed")

// Precompress starts writing tree's tarball in the background. Entries
// named in pending (regular files) get their data from Deliver; the Data
// of those in tree is ignored. Its Options are Write's, for the same tree.
// A tree that cannot be read gives nil, which every method accepts (Write
// then reports the problem). Write closes it; a caller that does not get
// that far (an error, an interrupt) must Close it.
func Precompress(tree []Entry, opts Options, pending []string) *Precompressed {
	src, err := opts.source(tree)
	if err != nil {
		return nil
	}
	epoch, err := Epoch(src, opts.SourceDateEpoch)
	if err != nil || !validPrefix(src.Name) || epoch.Unix() < 0 || epoch.Unix() > maxOctal11 {
		return nil
	}
	root, err := buildTree(tree, epoch)
	if err != nil {
		return nil
	}
	p := &Precompressed{
		pending: make(map[string]chan []byte, len(pending)),
		closed:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	for _, name := range pending {
		p.pending[name] = make(chan []byte, 1)
	}
	// One chunk at a time is compressed (an encoder holds ~8 MiB per
	// MiB of chunk), beside the writer, which waits for signatures.
	chunks := make(chan []byte, 1)
	go func() {
		defer close(chunks)
		cw := &chunkWriter{out: chunks}
		tw := &tarWriter{w: cw, epoch: epoch, data: p.data}
		if tw.walk(root, src.Name) != nil || tw.finish() != nil {
			return // closed early (or Write will report the error)
		}
		if len(cw.buf) > 0 {
			chunks <- cw.buf // the last, short chunk
		}
	}()
	go func() {
		defer close(p.done)
		for c := range chunks {
			select {
			case <-p.closed:
				continue // drain: Write compresses the rest on every CPU
			default:
			}
			xz, err := compressXZStream(c)
			if err != nil {
				xz = nil // not reused: Write compresses it again
			}
			p.sums = append(p.sums, sha256.Sum256(c))
			p.xz = append(p.xz, xz)
			p.compressed.Add(1)
		}
	}()
	return p
}

// Deliver gives the data of the pending entry name. A name that is not
// pending, or delivered before, is ignored.
func (p *Precompressed) Deliver(name string, data []byte) {
	if p == nil {
		return
	}
	if ch, ok := p.pending[name]; ok {
		select {
		case ch <- data:
		default:
		}
	}
}

// Close stops the background work and waits for it: the writer stops at
// its next pending entry, and the compressor after the chunk in hand
// (what is left, Write compresses on every CPU). It may be called more
// than once.
func (p *Precompressed) Close() {
	if p == nil {
		return
	}
	p.closeOnce.Do(func() { close(p.closed) })
	<-p.done
}

// data is the writer's source of file data: pending entries wait for
// Deliver (or Close).
func (p *Precompressed) data(e *Entry) ([]byte, error) {
	ch, ok := p.pending[e.Name]
	if !ok {
		return e.Data, nil
	}
	select {
	case <-p.closed:
		return nil, errClosed
	default:
	}
	select {
	case d := <-ch:
		return d, nil
	case <-p.closed:
		return nil, errClosed
	}
}

// lookup returns the compressed stream for chunk i when it was
// precompressed from identical bytes. Call it after Close.
func (p *Precompressed) lookup(i int, chunk []byte) ([]byte, bool) {
	if p == nil || i >= len(p.xz) || p.xz[i] == nil || sha256.Sum256(chunk) != p.sums[i] {
		return nil, false
	}
	return p.xz[i], true
}

// chunkWriter cuts what it is given into xzChunk-sized chunks.
type chunkWriter struct {
	out chan<- []byte
	buf []byte
}

func (w *chunkWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		if w.buf == nil {
			w.buf = make([]byte, 0, xzChunk)
		}
		k := min(len(b), xzChunk-len(w.buf))
		w.buf = append(w.buf, b[:k]...)
		b = b[k:]
		if len(w.buf) == xzChunk {
			w.out <- w.buf
			w.buf = nil
		}
	}
	return n, nil
}
