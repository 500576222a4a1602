package job

import (
	"context"
	"os"

	"github.com/mksigned/mksigned/internal/inputfile"
)

// Limits on the files attach and detach read whole: a file to sign is at
// most MaxFileSize bytes (as a listed file of generate), a detached
// signature at most MaxSignatureSize, and a signed file at most the sum.
const (
	MaxFileSize      = maxListedFile
	MaxSignatureSize = maxSignature
)

// openRegular opens name for reading and returns it with its size,
// refusing anything but a regular file before reading from it (a link to
// /dev/zero grows without bound; a FIFO would hang): inputfile.Open.
func openRegular(name string) (*os.File, int64, error) {
	f, err := inputfile.Open(name)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// ReadLimited reads the regular file name, of at most limit bytes; what
// names such a file in the error about a larger one ("a detached
// signature"). Its type and size are checked before anything is read,
// and reading stops when ctx is done.
func ReadLimited(ctx context.Context, name string, limit int64, what string) ([]byte, error) {
	return inputfile.ReadFileLimit(ctx, name, limit, what)
}
