package job

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Limits on the files attach and detach read whole: a file to sign is at
// most MaxFileSize bytes (as a listed file of generate), a detached
// signature at most MaxSignatureSize, and a signed file at most the sum.
const (
	MaxFileSize      = maxListedFile
	MaxSignatureSize = maxSignature
)

// openRegular opens name for reading and returns it with its size,
// refusing anything but a regular file before reading from it: a link to
// /dev/zero grows without bound, and opening a FIFO would hang
// (O_NONBLOCK, which changes nothing for a regular file).
func openRegular(name string) (*os.File, int64, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: is %s, not a regular file", name, fileKind(fi.Mode()))
	}
	return f, fi.Size(), nil
}

// ReadLimited reads the regular file name, of at most limit bytes; what
// names such a file in the error about a larger one ("a detached
// signature"). Its type and size are checked before anything is read,
// and no more than its size then is read.
func ReadLimited(name string, limit int64, what string) ([]byte, error) {
	f, size, err := openRegular(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size > limit {
		return nil, fmt.Errorf("%s: is %d bytes, more than the %d %s may have", name, size, limit, what)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

// fileKind describes a file type that is not a regular file.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return fmt.Sprintf("of type %v", m.Type())
}
