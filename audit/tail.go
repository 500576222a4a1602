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

// cutTorn cuts off the end of a record that a killed writer left
// unfinished, and returns how many bytes it cut. Linux ends a write(2)
// short when the writer gets SIGKILL between pages, so Append's one write
// can stop inside a line; that record's signatures never left (Append had
// not returned), and the next run must be able to go on. Only a tail that
// is Append's own start of a next record is cut: bytes after the last
// newline that are, or begin with, `{"prev":"<hash of the last line>"`
// (for the first line, the genesis hash). Anything else stays, for tail
// to refuse.
func (l *Log) cutTorn() (int64, error) {
	fi, err := l.f.Stat()
	if err != nil {
		return 0, fmt.Errorf("audit log %s: %w", inputerr.Name(l.path), err)
	}
	size := fi.Size()
	if size == 0 {
		return 0, nil
	}
	// The torn line and the whole line before it.
	n := min(size, 2*MaxLine+1)
	buf := make([]byte, n)
	if _, err := l.f.ReadAt(buf, size-n); err != nil {
		return 0, fmt.Errorf("audit log %s: %w", inputerr.Name(l.path), err)
	}
	if buf[n-1] == '\n' {
		return 0, nil
	}
	end := bytes.LastIndexByte(buf, '\n') + 1 // where the torn line starts
	if end == 0 && n < size {
		return 0, nil // no line end in reach: tail refuses it
	}
	prev := Genesis
	if end > 0 {
		start := bytes.LastIndexByte(buf[:end-1], '\n') + 1
		if start == 0 && n < size {
			return 0, nil
		}
		line := buf[start:end]
		if _, err := parse(line); err != nil {
			return 0, nil
		}
		prev = hash(line)
	}
	torn := buf[end:]
	want := []byte(`{"prev":"` + prev + `"`)
	if !bytes.HasPrefix(torn, want) && !bytes.HasPrefix(want, torn) {
		return 0, nil
	}
	if err := l.f.Truncate(size - int64(len(torn))); err != nil {
		return 0, fmt.Errorf("audit log %s: cutting off the unfinished record a killed run left: %w", inputerr.Name(l.path), err)
	}
	if err := l.sync(l.f); err != nil {
		return 0, fmt.Errorf("audit log %s: fsync: %w", inputerr.Name(l.path), err)
	}
	return int64(len(torn)), nil
}
