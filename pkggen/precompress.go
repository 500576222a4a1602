package pkggen

import (
	"bytes"
)

// Precompressed holds xz chunks of a tarball compressed ahead of Write.
type Precompressed struct {
	done   chan struct{}
	chunks [][]byte // the tar bytes of each chunk
	xz     [][]byte // their compressed streams
}

// Precompress starts compressing, in the background, the chunks of tree's
// tarball that lie wholly before its first entry whose name starts with
// pending (such as "debian/signatures/"). Those bytes cannot depend on the
// pending entries, so a caller that is still making them (signing) gets
// the rest of the tarball compressed meanwhile: linux's 3.7 MB changelog
// sorts before debian/signatures/. Write, given the result in Options,
// reuses a chunk only when its bytes are identical, so the output is the
// same with or without it. A tree that cannot be read gives nil; Write
// then reports the problem.
func Precompress(tree []Entry, opts Options, pending string) *Precompressed {
	src, err := ReadSource(tree)
	if err != nil {
		return nil
	}
	epoch, err := Epoch(src, opts.SourceDateEpoch)
	if err != nil {
		return nil
	}
	var buf bytes.Buffer
	if err := writeTarUntil(&buf, src.Name, tree, epoch, pending); err != nil {
		return nil
	}
	known := buf.Bytes()
	p := &Precompressed{done: make(chan struct{})}
	for i := 0; (i+1)*xzChunk <= len(known); i++ {
		p.chunks = append(p.chunks, known[i*xzChunk:(i+1)*xzChunk])
	}
	p.xz = make([][]byte, len(p.chunks))
	go func() {
		defer close(p.done)
		for i, c := range p.chunks {
			p.xz[i], _ = compressXZStream(c) // on error: not reused
		}
	}()
	return p
}

// lookup returns the compressed stream for chunk i when it was
// precompressed from identical bytes.
func (p *Precompressed) lookup(i int, chunk []byte) ([]byte, bool) {
	if p == nil || i >= len(p.chunks) {
		return nil, false
	}
	<-p.done
	if p.xz[i] == nil || !bytes.Equal(p.chunks[i], chunk) {
		return nil, false
	}
	return p.xz[i], true
}
