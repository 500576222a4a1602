// Package deb reads Debian binary packages (.deb) as a stream, strictly:
// the control data first, then every entry of the data archive, with
// nothing extracted to disk.
//
// The format is deb(5): an ar archive (see ar.go) holding "debian-binary"
// ("2.0\n"), then control.tar[.gz|.xz|.zst], then
// data.tar[.gz|.xz|.zst|.bz2]; members whose names start with "_" may come
// anywhere after debian-binary and are skipped, as dpkg does. The ar headers
// are parsed here, not by blakesmith/ar or pault.ag/go/debian/deb, which
// panic or hang on crafted headers.
//
// Errors about the input are *inputerr.Error: File is the name given to
// Read, Member the ar member, Path the tar entry, and Offset the byte offset
// in the .deb of the ar header at fault (of the data, for a bad
// debian-binary), or, when Member is set without Path, possibly the offset
// of a bad tar header in that member's uncompressed tar stream. Damage
// inside compressed data has no offset: the decompressors do not say where.
package deb // import "github.com/mksigned/mksigned/deb"

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/inputfile"
)

var (
	// ErrStop is returned by a visit function to stop reading early. Read
	// and WalkTar then return no error.
	ErrStop = errors.New("stop")
	// ErrNotDeb means the input is not a Debian package at all (no ar
	// magic, or an ar archive that does not start with debian-binary), as
	// opposed to a damaged one.
	ErrNotDeb = errors.New("not a Debian package")
	// ErrUnsafePath means an archive entry's path, or a hard link's
	// target, is absolute or leaves the root directory.
	ErrUnsafePath = errors.New("unsafe path")
)

// Members names and limits (deb(5); dpkg-deb/extract.c).
const (
	memberVersion = "debian-binary"
	memberControl = "control.tar"
	memberData    = "data.tar"
	// maxVersionSize bounds debian-binary: "2.0\n", perhaps with more lines.
	maxVersionSize = 1 << 10
)

// controlSuffixes are the compressions dpkg accepts for control.tar;
// data.tar may use any of decompressors.
var controlSuffixes = map[string]bool{"": true, ".gz": true, ".xz": true, ".zst": true}

// VisitFunc is called by Read for each data.tar entry, in archive order,
// with the package's control data and a reader of the entry's body that is
// valid only during the call. It returns ErrStop to stop reading.
type VisitFunc func(pkg *Package, e *Entry, body io.Reader) error

// Read reads the .deb r once, front to back, as a stream. name is the file
// name used in errors. It parses the control file, then calls visit for
// every entry of data.tar, and returns the control data.
//
// When visit returns ErrStop, Read returns at once, with no error: the rest
// of the package is not read, so damage after that point goes unnoticed.
// Otherwise Read reads to the end of the file and checks everything: the
// whole decompressed stream (with its checksums) and any members after
// data.tar (only "_"-prefixed ones are allowed there; dpkg would ignore
// them). A nil visit reads and checks the whole package.
//
// If visit returns another error, Read returns it unchanged, unless reading
// the entry's body failed first: then Read returns that read error, as an
// *inputerr.Error. When r has a known size (an *os.File, or a reader with a
// Len method like *bytes.Reader), a member claiming more bytes than are left
// fails before it is read.
func Read(r io.Reader, name string, visit VisitFunc) (*Package, error) {
	return ReadContext(context.Background(), r, name, visit)
}

// ReadContext is Read that stops once ctx is done, with an error wrapping
// ctx's: every read of r, and of the decompressed stream (where a
// gigabyte of zeros takes seconds to go by), checks it first.
func ReadContext(ctx context.Context, r io.Reader, name string, visit VisitFunc) (*Package, error) {
	d := newDebReader(ctx, r, name)
	pkg, err := d.read(visit)
	var ce callerError
	if errors.As(err, &ce) {
		return nil, ce.err
	}
	if err != nil {
		return nil, inputerr.WithFile(err, name)
	}
	return pkg, nil
}

// ReadControl reads a .deb only as far as its control data and the name
// of its data member, which it does not start to decompress.
func ReadControl(path string) (*Package, error) {
	return ReadControlContext(context.Background(), path)
}

// ReadControlContext is ReadControl that stops once ctx is done (see
// ReadContext).
func ReadControlContext(ctx context.Context, path string) (*Package, error) {
	f, err := inputfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	name := filepath.Base(path)
	d := newDebReader(ctx, f, name)
	d.controlOnly = true
	pkg, err := d.read(nil)
	if err != nil {
		return nil, inputerr.WithFile(err, name)
	}
	return pkg, nil
}

// ReadFile is Read on the named file, which must be a regular file (see
// inputfile.Open: a FIFO is refused, never waited for); errors name it by
// its base name.
func ReadFile(path string, visit VisitFunc) (*Package, error) {
	return ReadFileContext(context.Background(), path, visit)
}

// ReadFileContext is ReadFile that stops once ctx is done (see
// ReadContext).
func ReadFileContext(ctx context.Context, path string, visit VisitFunc) (*Package, error) {
	f, err := inputfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadContext(ctx, f, filepath.Base(path), visit)
}

// knownSize returns how many bytes are left in r, or -1 if unknown.
func knownSize(r io.Reader) int64 {
	switch v := r.(type) {
	case *os.File:
		fi, err := v.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		pos, err := v.Seek(0, io.SeekCurrent)
		if err != nil || pos > fi.Size() {
			return -1
		}
		return fi.Size() - pos
	case interface{ Len() int }:
		return int64(v.Len())
	}
	return -1
}

// debReader is the state of one Read.
type debReader struct {
	ctx  context.Context
	name string
	src  io.Reader // checks ctx before every read
	off  int64     // bytes read from src so far
	size int64     // total bytes in src, or -1
	// controlOnly stops after the control member and the data member's
	// header.
	controlOnly bool
}

func newDebReader(ctx context.Context, r io.Reader, name string) *debReader {
	return &debReader{ctx: ctx, name: name, src: inputfile.NewReader(ctx, r), size: knownSize(r)}
}

func (d *debReader) Read(p []byte) (int, error) {
	n, err := d.src.Read(p)
	d.off += int64(n)
	return n, err
}

func (d *debReader) read(visit VisitFunc) (*Package, error) {
	if err := d.readMagic(); err != nil {
		return nil, err
	}
	m, err := d.next()
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, &inputerr.Error{Offset: d.off, Err: fmt.Errorf("%w: ar archive is empty", ErrNotDeb)}
	}
	if m.hdr.Name != memberVersion {
		return nil, m.errorf("%w: first ar member is %q, want %q", ErrNotDeb, m.hdr.Name, memberVersion)
	}
	if err := d.readVersion(m); err != nil {
		return nil, err
	}

	// The control member, after any "_" members.
	m, err = d.nextCritical("control.tar")
	if err != nil {
		return nil, err
	}
	suffix, ok := strings.CutPrefix(m.hdr.Name, memberControl)
	if !ok {
		if strings.HasPrefix(m.hdr.Name, memberData) {
			return nil, m.errorf("member out of order: %s comes before %s", m.hdr.Name, memberControl)
		}
		return nil, m.errorf("unexpected member %q, want %s", m.hdr.Name, memberControl)
	}
	if !controlSuffixes[suffix] {
		return nil, m.errorf("unknown compression suffix %q for %s", suffix, memberControl)
	}
	pkg, err := d.readControl(m, suffix)
	if err != nil {
		return nil, err
	}

	// The data member.
	m, err = d.nextCritical("data.tar")
	if err != nil {
		return nil, err
	}
	suffix, ok = strings.CutPrefix(m.hdr.Name, memberData)
	if !ok {
		if strings.HasPrefix(m.hdr.Name, memberControl) {
			return nil, m.errorf("duplicate %s member", memberControl)
		}
		return nil, m.errorf("unexpected member %q, want %s", m.hdr.Name, memberData)
	}
	if _, ok := decompressors[suffix]; !ok {
		return nil, m.errorf("unknown compression suffix %q for %s", suffix, memberData)
	}
	pkg.DataMember = m.hdr.Name
	if d.controlOnly {
		return pkg, nil
	}
	stopped, err := d.readData(m, suffix, pkg, visit)
	if err != nil || stopped {
		return pkg, err
	}

	// Only "_" members may follow.
	for {
		m, err := d.next()
		if err != nil {
			return nil, err
		}
		if m == nil {
			return pkg, nil
		}
		if !strings.HasPrefix(m.hdr.Name, "_") {
			return nil, m.errorf("unexpected member %q after %s", m.hdr.Name, memberData)
		}
		if err := m.finish(); err != nil {
			return nil, err
		}
	}
}

// readVersion checks debian-binary: "2.<minor>\n", perhaps followed by more
// lines, which deb(5) says to ignore.
func (d *debReader) readVersion(m *member) error {
	if m.hdr.Size > maxVersionSize {
		return m.errorf("member is %d bytes, want at most %d", m.hdr.Size, maxVersionSize)
	}
	b, err := io.ReadAll(m)
	if err != nil {
		return m.contentError(err)
	}
	line, _, ok := strings.Cut(string(b), "\n")
	major, minor, _ := strings.Cut(line, ".")
	if !ok || major != "2" || minor == "" || strings.Trim(minor, "0123456789") != "" {
		return &inputerr.Error{Member: m.hdr.Name, Offset: m.hdrOff + arHeaderSize,
			Err: fmt.Errorf("unsupported package format version %q, want \"2.x\\n\"", b)}
	}
	return m.finish()
}

// nextCritical returns the next member, skipping "_" ones; want names the
// member expected, for the error at the end of the file.
func (d *debReader) nextCritical(want string) (*member, error) {
	for {
		m, err := d.next()
		if err != nil {
			return nil, err
		}
		if m == nil {
			return nil, &inputerr.Error{Offset: d.off, Err: fmt.Errorf("missing %s member", want)}
		}
		if !strings.HasPrefix(m.hdr.Name, "_") {
			return m, nil
		}
		if err := m.finish(); err != nil {
			return nil, err
		}
	}
}

// readControl reads control.tar and parses its "control" file.
func (d *debReader) readControl(m *member, suffix string) (*Package, error) {
	var data []byte
	err := d.walkMember(m, suffix, func(e *Entry, body io.Reader) error {
		if e.Path != "control" {
			return nil
		}
		if data != nil {
			return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset, Err: errors.New("duplicate control file")}
		}
		if e.Type != tar.TypeReg {
			return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset,
				Err: fmt.Errorf("control is tar type %q, want a regular file", e.Type)}
		}
		if e.Size > maxControlSize {
			return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset,
				Err: fmt.Errorf("control file is %d bytes, want at most %d", e.Size, maxControlSize)}
		}
		b, err := io.ReadAll(body)
		if err != nil {
			return err
		}
		data = b
		if data == nil {
			data = []byte{}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, &inputerr.Error{Member: m.hdr.Name, Offset: inputerr.NoOffset, Err: errors.New("no control file")}
	}
	pkg, err := parseControl(data)
	if err != nil {
		var ie *inputerr.Error
		if errors.As(err, &ie) {
			c := *ie
			c.Member, c.Path = m.hdr.Name, "control"
			return nil, &c
		}
		return nil, err
	}
	return pkg, nil
}

// readData reads data.tar, calling visit for each entry.
func (d *debReader) readData(m *member, suffix string, pkg *Package, visit VisitFunc) (stopped bool, err error) {
	var walkVisit func(e *Entry, body io.Reader) error
	if visit != nil {
		walkVisit = func(e *Entry, body io.Reader) error {
			err := visit(pkg, e, body)
			if err != nil && !errors.Is(err, ErrStop) {
				// A caller's input error about this entry gets the
				// file and member it came from.
				if ie, ok := err.(*inputerr.Error); ok && ie.File == "" && ie.Member == "" {
					c := *ie
					c.File, c.Member = d.name, m.hdr.Name
					err = &c
				}
				return callerError{err}
			}
			return err
		}
	}
	err = d.walkMember(m, suffix, walkVisit)
	if errors.Is(err, ErrStop) {
		return true, nil
	}
	return false, err
}

// callerError marks an error from the caller's visit function, to pass it
// through unchanged: Read unwraps it.
type callerError struct{ err error }

func (c callerError) Error() string { return c.err.Error() }

// walkMember walks the tar archive in member m, compressed as suffix says,
// then checks the member to its end. It returns ErrStop if visit stopped,
// visit's own errors unchanged, and everything else as input errors naming
// the member.
func (d *debReader) walkMember(m *member, suffix string, visit func(e *Entry, body io.Reader) error) error {
	dec, err := decompress(d.ctx, suffix, m)
	if err != nil {
		return m.contentError(err)
	}
	defer dec.Close()
	stopped, err := walkTar(d.ctx, dec, visit)
	if stopped {
		return ErrStop
	}
	if err != nil {
		if _, ok := err.(callerError); ok {
			return err
		}
		return m.contentError(err)
	}
	return m.finish()
}
