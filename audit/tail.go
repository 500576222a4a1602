package audit

import (
	"bytes"
	"fmt"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// tail checks the end of the log and returns the prev of the next line
// (Genesis for an empty log) and the log's size. It reads back from the
// end no more than MaxLine bytes, whatever the log's size.
func (l *Log) tail() (prev string, size int64, err error) {
	fi, err := l.f.Stat()
	if err != nil {
		return "", 0, fmt.Errorf("audit log %s: %w", inputerr.Name(l.path), err)
	}
	size = fi.Size()
	if size == 0 {
		return Genesis, 0, nil
	}
	n := min(size, MaxLine+1) // a whole line, and the "\n" before it
	buf := make([]byte, n)
	if _, err := l.f.ReadAt(buf, size-n); err != nil {
		return "", 0, fmt.Errorf("audit log %s: %w", inputerr.Name(l.path), err)
	}
	bad := func(off int64, format string, args ...any) error {
		return &inputerr.Error{File: l.path, Offset: off, Err: fmt.Errorf("corrupt audit log: "+format+"; nothing was signed (mksigned audit verify says more)", args...)}
	}
	if buf[n-1] != '\n' {
		return "", 0, bad(size, "the last line is cut off: the log does not end in a newline")
	}
	start := bytes.LastIndexByte(buf[:n-1], '\n') + 1
	if start == 0 && n == MaxLine+1 {
		return "", 0, bad(size-n, "the last line is longer than %d bytes", MaxLine)
	}
	line := buf[start:]
	if _, err := parse(line); err != nil {
		return "", 0, bad(size-n+int64(start), "the last line: %w", err)
	}
	return hash(line), size, nil
}
