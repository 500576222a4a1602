package deb

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// tarBlockSize is the size of a tar header block.
const tarBlockSize = 512

// Entry is one entry of a tar archive (a .deb's data.tar, or a source
// package's tarball).
type Entry struct {
	// Path is the entry's name cleaned: relative, slash-separated, without
	// "./" or a trailing "/" ("usr/lib/shim/fbx64.efi"), and "." for the
	// root directory. It never is absolute or contains "..".
	Path string
	// Type is the tar typeflag: tar.TypeReg, tar.TypeDir, tar.TypeSymlink,
	// tar.TypeLink, ... (the obsolete '\x00' is reported as tar.TypeReg).
	Type byte
	// Mode holds the permission bits and fs.ModeSetuid, fs.ModeSetgid and
	// fs.ModeSticky; the file type is in Type.
	Mode fs.FileMode
	// Size is the length of the body: that of a regular file, 0 otherwise.
	Size int64
	// ModTime is the modification time, in UTC.
	ModTime time.Time
	// Linkname is the target of a symbolic link, as written in the archive,
	// and the target of a hard link, cleaned like Path. Links are reported,
	// never followed.
	Linkname string
	// Offset is where the entry's tar header starts in the uncompressed
	// archive (its last header block, after any GNU long-name records).
	Offset int64
}

// maxEntries bounds the entries of one archive: WalkTar remembers each
// path, to refuse a second entry of the same name. Debian's kernel
// packages hold about 6,000.
const maxEntries = 1 << 18

// ErrDuplicate means an archive holds a path twice, or an entry below a
// symbolic link of the same archive: dpkg installs the last copy, or
// writes through the link, so what it installs differs from what a reader
// of the first copy sees.
var ErrDuplicate = errors.New("path appears twice in the archive")

// WalkTar reads the tar archive r (already decompressed: see Decompress) and
// calls visit for every entry, in archive order, with a reader of the
// entry's body that is valid only during the call.
//
// It stops without error when visit returns ErrStop (or an error wrapping
// it). Otherwise it reads r to its end, past the archive's end marker, so
// that a decompressor under r checks its trailer and checksums.
//
// An entry whose path is absolute or leaves the root, or a hard link whose
// target does, is an error wrapping ErrUnsafePath. So that what is read is
// what dpkg installs, the archive is refused, as dpkg 1.21's own tar reader
// (the one dpkg -i unpacks with) would refuse it or read it otherwise:
// PAX headers (typeflag 'x' or 'g'), GNU sparse, volume and multi-volume
// entries, and any type but files, links, devices, directories and FIFOs
// (with dpkg's messages); and, with ErrDuplicate, a path that appears
// twice (dpkg keeps the last copy) or an entry below a symbolic link of the
// same archive (dpkg writes through it). Errors about the input
// are *inputerr.Error with Path set to the entry's name, when the error is
// about an entry; or with Offset set to the offset in the tar stream where a
// bad header was detected. If visit fails after reading its body failed, the
// read error is returned as an *inputerr.Error; any other error from visit
// is returned unchanged. A nil visit only checks the archive.
func WalkTar(r io.Reader, visit func(e *Entry, body io.Reader) error) error {
	_, err := walkTar(context.Background(), r, visit)
	return err
}

// walkTar is WalkTar that also says whether visit stopped the walk, and
// stops once ctx is done.
func walkTar(ctx context.Context, r io.Reader, visit func(e *Entry, body io.Reader) error) (stopped bool, err error) {
	src := &tarSource{r: r, ctx: ctx}
	tr := tar.NewReader(src)
	seen := map[string]seenEntry{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return false, src.inputError("", err)
		}
		e, err := newEntry(hdr)
		if err != nil {
			return false, err
		}
		e.Offset = src.off - tarBlockSize
		if err := checkSeen(seen, e); err != nil {
			return false, err
		}
		if visit == nil {
			continue
		}
		body := &entryBody{r: tr}
		verr := visit(e, body)
		body.r = nil
		if errors.Is(verr, ErrStop) {
			return true, nil
		}
		if verr != nil {
			if body.err != nil || src.err != nil {
				return false, src.inputError(e.Path, body.err)
			}
			return false, verr
		}
	}
	// Read past the end marker (and GNU tar's padding to a whole record) to
	// the end of the stream.
	if _, err := io.Copy(io.Discard, src); err != nil {
		return false, src.inputError("", err)
	}
	return false, nil
}

// seenEntry is what checkSeen remembers of an entry.
type seenEntry struct {
	off  int64
	link string // a symbolic link's target
	typ  byte
}

// checkSeen refuses e if its path, or a directory above it, was seen
// before as a symbolic link, or if its path was seen at all.
func checkSeen(seen map[string]seenEntry, e *Entry) error {
	if prev, dup := seen[e.Path]; dup {
		return &inputerr.Error{Path: e.Path, Offset: e.Offset,
			Err: fmt.Errorf("%w: its first entry's header is at offset %#x; dpkg would install this one, the last", ErrDuplicate, prev.off)}
	}
	for d := path.Dir(e.Path); d != "."; d = path.Dir(d) {
		if prev, ok := seen[d]; ok && prev.typ == tar.TypeSymlink {
			return &inputerr.Error{Path: e.Path, Offset: e.Offset,
				Err: fmt.Errorf("%w: it lies below %s, a symbolic link to %q at offset %#x, through which dpkg would write it", ErrDuplicate, d, prev.link, prev.off)}
		}
	}
	if len(seen) >= maxEntries {
		return &inputerr.Error{Path: e.Path, Offset: e.Offset, Err: fmt.Errorf("more than %d entries in one archive", maxEntries)}
	}
	se := seenEntry{off: e.Offset, typ: e.Type}
	if e.Type == tar.TypeSymlink {
		se.link = e.Linkname
	}
	seen[e.Path] = se
	return nil
}

func newEntry(hdr *tar.Header) (*Entry, error) {
	p, ok := cleanPath(hdr.Name)
	if !ok {
		return nil, &inputerr.Error{Path: hdr.Name, Offset: inputerr.NoOffset,
			Err: fmt.Errorf("%w: absolute, empty, or outside the root", ErrUnsafePath)}
	}
	if err := dpkgType(hdr); err != nil {
		return nil, &inputerr.Error{Path: p, Offset: inputerr.NoOffset, Err: err}
	}
	e := &Entry{
		Path:     p,
		Type:     hdr.Typeflag,
		Mode:     fileMode(hdr.Mode),
		ModTime:  hdr.ModTime.UTC(),
		Linkname: hdr.Linkname,
	}
	switch hdr.Typeflag {
	case tar.TypeLink:
		target, ok := cleanPath(hdr.Linkname)
		if !ok {
			return nil, &inputerr.Error{Path: hdr.Name, Offset: inputerr.NoOffset,
				Err: fmt.Errorf("%w: hard link to %q", ErrUnsafePath, hdr.Linkname)}
		}
		e.Linkname = target
	}
	if hdr.Typeflag == tar.TypeReg {
		e.Size = hdr.Size
	}
	return e, nil
}

// dpkgType refuses what dpkg's own tar reader (lib/dpkg/tarfn.c, dpkg
// 1.21) refuses, with its words: dpkg -i would not install the package.
// archive/tar has already consumed GNU long-name records ('L', 'K'), which
// dpkg reads too, and PAX records, which it does not.
func dpkgType(hdr *tar.Header) error {
	switch hdr.Typeflag {
	case tar.TypeXHeader, tar.TypeXGlobalHeader:
		return fmt.Errorf("unsupported PAX tar header type %q (dpkg refuses the package)", hdr.Typeflag)
	}
	if len(hdr.PAXRecords) > 0 {
		return errors.New("unsupported PAX tar header type 'x' (dpkg refuses the package)")
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
		return nil
	case tar.TypeGNUSparse, 'V', 'M', 'N', 'D':
		return fmt.Errorf("unsupported GNU tar header type %q (dpkg refuses the package)", hdr.Typeflag)
	}
	return fmt.Errorf("unknown tar header type %q (dpkg refuses the package)", hdr.Typeflag)
}

// cleanPath returns name as a clean relative slash-separated path, "." for
// the root, and false if it is empty, absolute or leaves the root.
func cleanPath(name string) (string, bool) {
	if name == "" || strings.HasPrefix(name, "/") {
		return "", false
	}
	p := path.Clean(name)
	if !filepath.IsLocal(p) {
		return "", false
	}
	return p, true
}

// fileMode converts tar's Unix mode bits to the permission and special bits
// of an fs.FileMode.
func fileMode(m int64) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// entryBody is the body reader given to visit. It fails once visit has
// returned, and remembers the first read error, so that a corrupt stream
// seen through it is reported as bad input even if visit wraps the error.
type entryBody struct {
	r   io.Reader
	err error
}

var errBodyGone = errors.New("deb: entry body read after visit returned")

func (b *entryBody) Read(p []byte) (int, error) {
	if b.r == nil {
		return 0, errBodyGone
	}
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// tarSource is the reader under archive/tar: it counts the bytes read, for
// offsets, and keeps the first error of the stream itself (a decompressor's
// error) apart from archive/tar's own errors.
//
// It checks ctx before every read: archive/tar skips an entry's body by
// reading it, and a small package can hold a gigabyte of zeros that
// takes seconds to decode. A read that fails once ctx is done fails
// because of it (the xz program, or the file under it, was stopped), and
// reports ctx's error, not damage.
type tarSource struct {
	r   io.Reader
	ctx context.Context
	off int64
	err error
}

func (s *tarSource) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		if s.err == nil {
			s.err = err
		}
		return 0, err
	}
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.ctx.Err() != nil {
		err = s.ctx.Err()
	}
	s.off += int64(n)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// inputError describes a failure to read the tar archive: the stream's own
// error when there is one, else a truncated archive, else a bad header (with
// the offset of the last block read).
func (s *tarSource) inputError(entryPath string, err error) error {
	ie := &inputerr.Error{Path: entryPath, Offset: inputerr.NoOffset}
	switch {
	case s.err != nil:
		ie.Err = s.err
	case errors.Is(err, io.ErrUnexpectedEOF):
		ie.Err = fmt.Errorf("tar archive is truncated: %w", err)
	case entryPath == "" && s.off >= tarBlockSize:
		ie.Offset = (s.off - tarBlockSize) &^ (tarBlockSize - 1)
		ie.Err = err
	default:
		ie.Err = err
	}
	return ie
}
