package deb

import (
	"bufio"
	"compress/bzip2"
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/xi2/xz"
)

// Limits on the memory a decompressor may take, whatever a header claims.
const (
	// xzMaxDict is the largest LZMA2 dictionary accepted: 64 MiB is what
	// "xz -9" uses; dpkg-deb's default "-6" uses 8 MiB.
	xzMaxDict = 64 << 20
	// zstdMaxWindow is the largest zstd window accepted: 128 MiB allows
	// "zstd --long=27"; dpkg-deb uses no long mode.
	zstdMaxWindow = 128 << 20
	// plainBufferSize is the read buffer for uncompressed members, so that
	// archive/tar's 512-byte reads do not each reach the file.
	plainBufferSize = 64 << 10
)

// decompressors maps a compression suffix ("" for none) to a function that
// starts a streaming decompressor. The context is that of the read (see
// newExternalXZ).
var decompressors = map[string]func(context.Context, io.Reader) (io.ReadCloser, error){
	"":     newPlain,
	".gz":  newGzip,
	".xz":  newXZ,
	".zst": newZstd,
	".bz2": newBzip2,
}

// Decompress returns a streaming decompressor for r, chosen by the extension
// of name: ".gz", ".xz", ".zst" or ".bz2", and none for ".tar" or no
// extension ("data.tar", "fwupd_1.4+1.tar.xz"). Any other extension is an
// error. The caller must Close the result (the zstd decoder runs goroutines
// until then); Close does not close r.
//
// Read errors from the result name the format ("xz: data is truncated or
// corrupt"). A compressed stream that is empty or cut short is an error
// ("xz: data is truncated or corrupt", or io.ErrUnexpectedEOF), never a
// clean io.EOF.
func Decompress(name string, r io.Reader) (io.ReadCloser, error) {
	ext := path.Ext(name)
	if ext == ".tar" {
		ext = ""
	}
	return decompress(context.Background(), ext, r)
}

func decompress(ctx context.Context, suffix string, r io.Reader) (io.ReadCloser, error) {
	newReader, ok := decompressors[suffix]
	if !ok {
		return nil, fmt.Errorf("unknown compression suffix %q (known: %s)", suffix, knownSuffixes())
	}
	rc, err := newReader(ctx, r)
	if err != nil {
		return nil, noEOF(err)
	}
	return rc, nil
}

func knownSuffixes() string {
	var s []string
	for k := range decompressors {
		if k != "" {
			s = append(s, k)
		}
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

// noEOF turns an io.EOF from a decompressor's start (an empty stream) into
// io.ErrUnexpectedEOF: a compressed stream is never empty.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func newPlain(_ context.Context, r io.Reader) (io.ReadCloser, error) {
	return io.NopCloser(bufio.NewReaderSize(r, plainBufferSize)), nil
}

func newGzip(_ context.Context, r io.Reader) (io.ReadCloser, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		err = noEOF(err)
		if !strings.HasPrefix(err.Error(), "gzip: ") {
			err = fmt.Errorf("gzip: %w", err)
		}
		return nil, err
	}
	return prefixErrors{zr, "gzip", zr.Close}, nil
}

func newXZ(ctx context.Context, r io.Reader) (io.ReadCloser, error) {
	if useExternalXZ(sizeOf(r)) {
		return newExternalXZ(ctx, r)
	}
	var zr *xz.Reader
	var err error
	if pooled, ok := xzReaders.Get().(*xz.Reader); ok {
		zr, err = pooled, pooled.Reset(r)
	} else {
		zr, err = xz.NewReader(r, xzMaxDict)
	}
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("xz: %w", io.ErrUnexpectedEOF)
		}
		return nil, err // xi2/xz errors already start with "xz: "
	}
	return prefixErrors{zr, "", func() error {
		// Reset keeps the dictionary (8 MiB for dpkg's xz -6): reusing it
		// spares allocating and clearing one per member, which was most of
		// the time spent on small packages.
		xzReaders.Put(zr) // Reset(r) on reuse re-initialises it whole
		return nil
	}}, nil
}

// xzReaders holds xz decoders for reuse.
var xzReaders sync.Pool

// sizeOf returns the number of bytes r holds, or -1 when unknown.
func sizeOf(r io.Reader) int64 {
	switch r := r.(type) {
	case *member:
		return r.left
	case interface{ Len() int }:
		return int64(r.Len())
	}
	return -1
}

func newZstd(_ context.Context, r io.Reader) (io.ReadCloser, error) {
	src := &sawInput{r: r}
	zr, err := zstd.NewReader(src, zstd.WithDecoderMaxWindow(zstdMaxWindow))
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	return prefixErrors{notEmpty{zr, src}, "zstd", func() error { zr.Close(); return nil }}, nil
}

// sawInput records whether any byte was read through it. The zstd decoder
// reads it from its own goroutine.
type sawInput struct {
	r   io.Reader
	any atomic.Bool
}

func (s *sawInput) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.any.Store(true)
	}
	return n, err
}

// notEmpty turns the clean end of a decompressor whose input was empty into
// io.ErrUnexpectedEOF: klauspost's zstd takes no input as no frames.
type notEmpty struct {
	r   io.Reader
	src *sawInput
}

func (e notEmpty) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF && !e.src.any.Load() {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func newBzip2(_ context.Context, r io.Reader) (io.ReadCloser, error) {
	return prefixErrors{bzip2.NewReader(r), "", nil}, nil
}

// prefixErrors gives a decompressor's read errors a format prefix (where
// the library's own messages lack one) and its Close.
type prefixErrors struct {
	r      io.Reader
	prefix string
	close  func() error
}

func (p prefixErrors) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		if p.prefix != "" && !strings.HasPrefix(err.Error(), p.prefix) {
			err = fmt.Errorf("%s: %w", p.prefix, err)
		}
	}
	return n, err
}

func (p prefixErrors) Close() error {
	if p.close == nil {
		return nil
	}
	return p.close()
}
