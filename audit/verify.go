package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/inputfile"
)

// Verify checks the whole chain of the log at path, reading it as a
// stream, and returns how many records it holds. An error names the line
// and what is wrong with it: not a record, a prev that does not match the
// line before (that line edited, or lines removed or reordered), a first
// line whose prev is not Genesis (lines removed from the start), a line
// longer than MaxLine, or a last line cut off.
func Verify(path string) (int, error) {
	f, err := inputfile.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, MaxLine)
	prev := Genesis
	n := 0
	for {
		line, err := r.ReadSlice('\n')
		switch {
		case err == io.EOF && len(line) == 0:
			return n, nil
		case err == io.EOF:
			return n, lineError(path, n+1, errors.New("cut off: the log does not end in a newline"))
		case errors.Is(err, bufio.ErrBufferFull):
			return n, lineError(path, n+1, fmt.Errorf("longer than %d bytes", MaxLine))
		case err != nil:
			return n, err
		}
		n++
		rec, err := parse(line)
		if err != nil {
			return n - 1, lineError(path, n, err)
		}
		if rec.Prev != prev {
			if n == 1 {
				return 0, lineError(path, n, fmt.Errorf("prev is %s, not 64 zeros: this is not the log's first line (lines removed from its start?)", rec.Prev))
			}
			return n - 1, lineError(path, n, fmt.Errorf("prev does not match the SHA-256 of line %d: line %d was edited, or lines were removed or reordered there", n-1, n-1))
		}
		prev = hash(line)
	}
}

func lineError(path string, n int, err error) error {
	return &inputerr.Error{File: path, Offset: inputerr.NoOffset, Field: fmt.Sprintf("line %d", n), Err: err}
}
