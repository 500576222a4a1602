// Package inputerr defines the one error type mksigned uses for bad input:
// it says where in which file the problem is, so that a person can find it
// with a hex editor or tar -tv.
package inputerr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// NoOffset marks an Error that has no byte offset.
const NoOffset int64 = -1

// Error is bad input at a known place. Fields that do not apply are empty
// (Offset is NoOffset). Each layer fills in what it alone knows: the package
// file, the ar member, the path inside the tar, the byte offset, the field.
type Error struct {
	File   string // file on disk, e.g. "fwupd-unsigned_1.4-1_amd64.deb"
	Member string // ar member, e.g. "data.tar.xz"
	Path   string // path inside the archive or tree, e.g. "./usr/lib/x.efi"
	Offset int64  // byte offset inside the innermost of the above, or NoOffset
	Field  string // field or key, e.g. "Build-Depends" or "packages.x.files[0].file"
	Err    error
}

// New returns an Error with only the cause set and no offset.
func New(err error) *Error { return &Error{Offset: NoOffset, Err: err} }

// Errorf is New(fmt.Errorf(format, args...)).
func Errorf(format string, args ...any) *Error { return New(fmt.Errorf(format, args...)) }

func (e *Error) Error() string {
	var parts []string
	for _, s := range []string{e.File, e.Member, e.Path} {
		if s != "" {
			parts = append(parts, Name(s))
		}
	}
	if e.Offset >= 0 {
		parts = append(parts, fmt.Sprintf("offset %#x", e.Offset))
	}
	if e.Field != "" {
		parts = append(parts, e.Field)
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	return strings.Join(parts, ": ")
}

func (e *Error) Unwrap() error { return e.Err }

// Name returns a name taken from input (a path in a package, a file name)
// fit to print on a terminal or in a log: as it is when every character
// is printable and none is a quote, a backslash or a space that could
// make it read as two names; else quoted, as %q does. A newline in a name
// can then never forge a line of output, nor an escape sequence rewrite
// the screen.
func Name(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) || r == ' ' || r == '"' || r == '\\' || r == utf8.RuneError {
			return strconv.Quote(s)
		}
	}
	return s
}

// MaxValue is how many bytes of a value taken from input a message shows.
const MaxValue = 80

// Value returns a value taken from input (a field, a date, a line) fit to
// print in a message: quoted, as %q does, and when longer than MaxValue
// bytes cut there, with its size said, so that a 1 MB field never makes a
// 1 MB message.
func Value(s string) string {
	if len(s) <= MaxValue {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(cut(s, MaxValue)), len(s))
}

// cut returns the first n bytes of s, or fewer so as not to split a
// character.
func cut(s string, n int) string {
	for i := 0; i < utf8.UTFMax-1 && n > 0 && !utf8.RuneStart(s[n]); i++ {
		n--
	}
	return s[:n]
}

// maxMessage is how long a message Tame keeps.
const maxMessage = 4 * MaxValue

// Tame returns err with a message fit to print: on one line, control
// characters escaped as %q escapes them, and cut to a few hundred bytes
// with its size said; errors.Is and errors.As still see err. It is for
// the errors of parsers that quote their input whole and raw
// (pault.ag/go/debian's "Bad line: '...\n' has no ':'" holds the line,
// newline and all, whatever its length).
func Tame(err error) error {
	if err == nil {
		return nil
	}
	return tameError{err}
}

type tameError struct{ err error }

func (e tameError) Error() string {
	msg := e.err.Error()
	short := msg
	if len(msg) > maxMessage {
		short = cut(msg, maxMessage)
	}
	var b strings.Builder
	for _, r := range short {
		if r == utf8.RuneError {
			b.WriteString(`\ufffd`)
			continue
		}
		if r != ' ' && !unicode.IsPrint(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	if len(short) < len(msg) {
		fmt.Fprintf(&b, "... (%d bytes of message)", len(msg))
	}
	return b.String()
}

func (e tameError) Unwrap() error { return e.err }

// WithFile returns err with File set to file. An error that already names
// a file (an *Error with File set anywhere in its chain) is returned as it
// is; an *Error with no File is copied and filled in; anything else is
// wrapped.
func WithFile(err error, file string) error {
	if err == nil {
		return nil
	}
	var ie *Error
	if errors.As(err, &ie) && ie.File != "" {
		return err // already names its file
	}
	if ie, ok := err.(*Error); ok {
		c := *ie
		c.File = file
		return &c
	}
	return &Error{File: file, Offset: NoOffset, Err: err}
}
