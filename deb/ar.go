package deb

// The ar container of a .deb, as dpkg reads it (deb(5), ar(5); dpkg's
// lib/dpkg/ar.c and dpkg-deb/extract.c): the magic "!<arch>\n", then
// members, each a 60-byte header followed by its data, padded with one byte
// to an even length. Header fields are ASCII, padded with spaces:
//
//	offset size field
//	     0   16 name (GNU ar may end it with "/")
//	    16   12 mtime, decimal
//	    28    6 uid, decimal
//	    34    6 gid, decimal
//	    40    8 mode, octal
//	    48   10 size, decimal
//	    58    2 terminator "`\n"

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/mksigned/mksigned/internal/inputerr"
)

const (
	arMagic      = "!<arch>\n"
	arHeaderSize = 60
	arTerminator = "`\n"
)

// arHeader is a parsed ar member header.
type arHeader struct {
	Name  string // without padding and without GNU ar's trailing "/"
	MTime int64
	UID   int64
	GID   int64
	Mode  int64
	Size  int64 // never negative
}

// An arField is one fixed-width field of an ar member header.
type arField struct {
	name     string
	off, len int
}

var (
	fieldName  = arField{"name", 0, 16}
	fieldMTime = arField{"mtime", 16, 12}
	fieldUID   = arField{"uid", 28, 6}
	fieldGID   = arField{"gid", 34, 6}
	fieldMode  = arField{"mode", 40, 8}
	fieldSize  = arField{"size", 48, 10}
	fieldTerm  = arField{"terminator", 58, 2}
)

func (f arField) bytes(b []byte) []byte { return b[f.off : f.off+f.len] }

// parseArHeader parses and checks one 60-byte member header. It is strict
// where dpkg is lenient only where leniency buys nothing: every numeric field
// must be a number (or blank, except the size), and the terminator must be
// exact.
func parseArHeader(b []byte) (arHeader, error) {
	var h arHeader
	if len(b) != arHeaderSize {
		return h, fmt.Errorf("ar member header is %d bytes, want %d", len(b), arHeaderSize)
	}
	if t := fieldTerm.bytes(b); string(t) != arTerminator {
		return h, fmt.Errorf("ar member header: bad terminator %q, want %q", t, arTerminator)
	}
	name, err := parseArName(fieldName.bytes(b))
	if err != nil {
		return h, err
	}
	h.Name = name
	raw := bytes.Trim(fieldSize.bytes(b), " ")
	if len(raw) > 0 && raw[0] == '-' {
		return h, fmt.Errorf("ar member header: negative size field %q", raw)
	}
	size, ok := parseNumber(raw, 10)
	if !ok || len(raw) == 0 {
		return h, fmt.Errorf("ar member header: bad size field %q", raw)
	}
	h.Size = size
	for _, f := range []struct {
		field arField
		base  int
		dst   *int64
	}{
		{fieldMTime, 10, &h.MTime},
		{fieldUID, 10, &h.UID},
		{fieldGID, 10, &h.GID},
		{fieldMode, 8, &h.Mode},
	} {
		raw := bytes.Trim(f.field.bytes(b), " ")
		n, ok := parseNumber(raw, f.base)
		if !ok {
			return h, fmt.Errorf("ar member header: bad %s field %q", f.field.name, raw)
		}
		*f.dst = n
	}
	return h, nil
}

// parseArName returns the member name without its space padding and
// without the "/" GNU ar appends. Names must be printable ASCII without
// spaces or further slashes: GNU's long-name table ("//", "/123") and
// symbol table ("/") never occur in a .deb.
func parseArName(field []byte) (string, error) {
	name := bytes.TrimRight(field, " ")
	name = bytes.TrimSuffix(name, []byte("/"))
	if len(name) == 0 {
		return "", fmt.Errorf("ar member header: bad name field %q", field)
	}
	for _, c := range name {
		if c <= ' ' || c > '~' || c == '/' {
			return "", fmt.Errorf("ar member header: bad name field %q", field)
		}
	}
	return string(name), nil
}

// parseNumber parses an unsigned number made only of digits of the given
// base. A blank field is 0. The fields are at most 12 digits long, so the
// value always fits in an int64.
func parseNumber(s []byte, base int) (int64, bool) {
	if len(s) == 0 {
		return 0, true
	}
	for _, c := range s {
		if c < '0' || c >= '0'+byte(base) {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(s), base, 64)
	return n, err == nil
}

// readMagic checks the ar magic at the start of the file.
func (d *debReader) readMagic() error {
	var b [len(arMagic)]byte
	n, err := io.ReadFull(d, b[:])
	switch {
	case n == 0 && err == io.EOF:
		return &inputerr.Error{Offset: 0, Err: fmt.Errorf("%w: empty file", ErrNotDeb)}
	case err == io.ErrUnexpectedEOF && arMagic[:n] == string(b[:n]):
		return &inputerr.Error{Offset: 0,
			Err: fmt.Errorf("truncated: the file ends at offset %#x inside the ar magic", n)}
	case err != nil && err != io.ErrUnexpectedEOF:
		return &inputerr.Error{Offset: 0, Err: err}
	case string(b[:n]) != arMagic:
		return &inputerr.Error{Offset: 0, Err: fmt.Errorf("%w: missing ar magic %q", ErrNotDeb, arMagic)}
	}
	return nil
}

// member is the ar member being read: a reader of exactly its data.
type member struct {
	d         *debReader
	hdr       arHeader
	hdrOff    int64 // offset of its header in the file
	left      int64 // bytes of its data not yet read
	truncated bool  // the file ended inside the member
}

// errTruncated is what a member's reader returns when the file ends early;
// Read reports it with member.truncatedError.
var errTruncated = errors.New("file ends inside an ar member")

func (m *member) Read(p []byte) (int, error) {
	if m.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > m.left {
		p = p[:m.left]
	}
	n, err := m.d.Read(p)
	m.left -= int64(n)
	if err == io.EOF && m.left > 0 {
		m.truncated = true
		return n, errTruncated
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}

func (m *member) errorf(format string, args ...any) error {
	return &inputerr.Error{Member: m.hdr.Name, Offset: m.hdrOff, Err: fmt.Errorf(format, args...)}
}

func (m *member) truncatedError() error {
	return m.errorf("truncated: member claims %d bytes but the file ends at offset %#x", m.hdr.Size, m.d.off)
}

// contentError describes a failure inside the member's data: the file
// ending early, or err (from a decompressor or the tar reader).
func (m *member) contentError(err error) error {
	if m.truncated {
		return m.truncatedError()
	}
	var ie *inputerr.Error
	if errors.As(err, &ie) && ie.Member == "" {
		c := *ie
		c.Member = m.hdr.Name
		return &c
	}
	return &inputerr.Error{Member: m.hdr.Name, Offset: inputerr.NoOffset, Err: err}
}

// finish skips what is left of the member's data and its padding byte.
// A missing padding byte at the very end of the file is accepted.
func (m *member) finish() error {
	if _, err := io.Copy(io.Discard, m); err != nil {
		if m.truncated {
			return m.truncatedError()
		}
		return &inputerr.Error{Member: m.hdr.Name, Offset: inputerr.NoOffset, Err: err}
	}
	if m.hdr.Size%2 == 1 {
		var pad [1]byte
		if _, err := io.ReadFull(m.d, pad[:]); err != nil && err != io.EOF {
			return &inputerr.Error{Member: m.hdr.Name, Offset: inputerr.NoOffset, Err: err}
		}
	}
	return nil
}

// next reads the next member header. At a clean end of file it returns
// nil, nil.
func (d *debReader) next() (*member, error) {
	hdrOff := d.off
	var b [arHeaderSize]byte
	n, err := io.ReadFull(d, b[:])
	switch {
	case n == 0 && err == io.EOF:
		return nil, nil
	case err == io.ErrUnexpectedEOF:
		return nil, &inputerr.Error{Offset: hdrOff,
			Err: fmt.Errorf("truncated: the file ends at offset %#x inside an ar member header", d.off)}
	case err != nil:
		return nil, &inputerr.Error{Offset: hdrOff, Err: err}
	}
	hdr, err := parseArHeader(b[:])
	if err != nil {
		return nil, &inputerr.Error{Offset: hdrOff, Err: err}
	}
	m := &member{d: d, hdr: hdr, hdrOff: hdrOff, left: hdr.Size}
	if d.size >= 0 && hdr.Size > d.size-d.off {
		return nil, m.errorf("truncated: member claims %d bytes but the file ends at offset %#x", hdr.Size, d.size)
	}
	return m, nil
}
