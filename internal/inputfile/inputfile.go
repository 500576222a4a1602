// Package inputfile opens the files mksigned is given to read. A path on
// the command line or in a --signatures directory may name anything: a
// FIFO blocks open(2) until some process opens it for writing, and no
// signal handler runs meanwhile (SIGTERM cannot stop it); a terminal or a
// device such as /dev/zero reads forever. So every input is opened
// without blocking (O_NONBLOCK) and its type checked on the descriptor
// opened, before anything is read.
package inputfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular means an input is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// Open opens the file name for reading. Anything but a regular file (once
// links are followed) is refused with an error naming it and wrapping
// ErrNotRegular.
func Open(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err // an *fs.PathError: it names the file
	}
	return checkRegular(f, name)
}

// OpenRoot is os.OpenRoot for a directory given as input. os.OpenRoot
// opens its argument blocking, so a FIFO in place of the directory would
// hang it: the path is first opened without blocking and refused, naming
// it, unless it is a directory.
func OpenRoot(dir string) (*os.Root, error) {
	f, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: fmt.Errorf("not a directory: %s", kind(fi.Mode()))}
	}
	return os.OpenRoot(dir)
}

// OpenInRoot is Open for the file name inside root: nothing outside root
// is opened. Errors name the file as root's name joined with name.
func OpenInRoot(root *os.Root, name string) (*os.File, error) {
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	return checkRegular(f, f.Name())
}

// checkRegular returns f if it is a regular file, else closes it.
func checkRegular(f *os.File, name string) (*os.File, error) {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: %s", ErrNotRegular, kind(fi.Mode()))}
	}
	return f, nil
}

// kind says what a file that is not regular is.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return "a regular file"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "of type " + m.Type().String()
}

// ReadFile reads the whole regular file name (see Open). It stops with
// ctx's error when ctx is done, checked before every read of at most
// readChunk bytes.
func ReadFile(ctx context.Context, name string) ([]byte, error) {
	return ReadFileLimit(ctx, name, -1, "")
}

// ReadFileLimit is ReadFile for a file of at most limit bytes (none when
// limit < 0): its size is checked before anything is read, and what names
// such a file in the error about a larger one ("a detached signature").
// No more than the size the file had when opened is read.
func ReadFileLimit(ctx context.Context, name string, limit int64, what string) ([]byte, error) {
	f, err := Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if limit >= 0 && size > limit {
		return nil, fmt.Errorf("%s: is %d bytes, more than the %d %s may have", name, size, limit, what)
	}
	b := make([]byte, 0, min(size, 1<<30)+1) // one more, to see the end
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := f.Read(b[len(b):min(cap(b), len(b)+readChunk)])
		b = b[:len(b)+n]
		if limit >= 0 && int64(len(b)) > limit {
			return nil, fmt.Errorf("%s: grew past the %d bytes %s may have while it was read", name, limit, what)
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err // an *fs.PathError
		}
	}
}

// readChunk bounds one read of ReadFile, so that an interrupt is seen
// within milliseconds.
const readChunk = 4 << 20

// NewReader returns a reader of r that fails with ctx's error once ctx is
// done, checked before every read: a long read loop (a decompressor
// skipping gigabytes) then stops at its next read.
func NewReader(ctx context.Context, r io.Reader) io.Reader {
	if ctx.Done() == nil {
		return r // never cancelled
	}
	return &ctxReader{ctx: ctx, r: r}
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	select {
	case <-c.ctx.Done():
		return 0, c.ctx.Err()
	default:
	}
	return c.r.Read(p)
}
