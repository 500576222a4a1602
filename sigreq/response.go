package sigreq

// The response: a tar of <package>/<path>.sig, one detached DER signature
// a file, the layout of generate's --signatures directory. sign-request
// writes it (deterministic, so the same request and key give the same
// bytes); generate reads it from the signing host, which it need not
// trust, so ReadResponse is strict and bounded.

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/mksigned/mksigned/internal/debname"
	"github.com/mksigned/mksigned/internal/inputerr"
)

// Limits on a response.
const (
	// MaxSignatureSize bounds one signature. Debian's are under 2 KiB (an
	// Authenticode signature with its certificate); a certificate chain
	// of several RSA-4096 certificates stays far under this.
	MaxSignatureSize = 1 << 20
	// MaxResponseEntries bounds the signatures of one response: twice
	// MaxFiles, so that a response is refused for its contents (what
	// generate checks against the request) before its count.
	MaxResponseEntries = 2 * MaxFiles
	// MaxResponseSize bounds the bytes ReadResponse reads in all:
	// headers, signatures and padding. 100,000 signatures of 2 KiB with
	// their headers are about 250 MB.
	MaxResponseSize = 512 << 20
	// maxTrailer bounds the zeros taken after the end of the archive:
	// tar programs pad to a record (GNU tar's is 10 KiB).
	maxTrailer = 1 << 20
)

// blockSize is tar's block.
const blockSize = 512

// Signature is one signature in a response.
type Signature struct {
	// Path is where it goes: File.SignaturePath(), <package>/<path>.sig.
	Path string
	Data []byte // the detached DER signature
}

// WriteResponse writes sigs to w as a tar that ReadResponse reads: one
// regular file per signature, sorted by path, and no directory entries.
// Every header is the same but for name and size: GNU format, mode 0644,
// uid and gid 0, owner root:root, and modification time when (the
// request's signing time, to the second), so that the same signatures
// give the same bytes. It refuses, before writing anything, a path that
// is not a clean relative <package>/<...>.sig, one given twice, and an
// empty or oversized signature. sigs is not changed.
func WriteResponse(w io.Writer, when time.Time, sigs []Signature) error {
	if when.IsZero() {
		return errors.New("response: no modification time given (the request's signing time)")
	}
	sorted := slices.Clone(sigs)
	slices.SortFunc(sorted, func(a, b Signature) int { return strings.Compare(a.Path, b.Path) })
	for i, s := range sorted {
		if err := checkEntryName(s.Path); err != nil {
			return fmt.Errorf("response: %w", err)
		}
		if i > 0 && s.Path == sorted[i-1].Path {
			return fmt.Errorf("response: %s: two signatures for one path", inputerr.Name(s.Path))
		}
		if len(s.Data) == 0 || len(s.Data) > MaxSignatureSize {
			return fmt.Errorf("response: %s: a signature of %d bytes (want 1 to %d)", inputerr.Name(s.Path), len(s.Data), MaxSignatureSize)
		}
	}
	mtime := when.UTC().Truncate(time.Second)
	tw := tar.NewWriter(w)
	for _, s := range sorted {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     s.Path,
			Size:     int64(len(s.Data)),
			Mode:     0o644,
			Uid:      0,
			Gid:      0,
			Uname:    "root",
			Gname:    "root",
			ModTime:  mtime,
			Format:   tar.FormatGNU,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("response: %s: %w", inputerr.Name(s.Path), err)
		}
		if _, err := tw.Write(s.Data); err != nil {
			return fmt.Errorf("response: %s: %w", inputerr.Name(s.Path), err)
		}
	}
	return tw.Close()
}

// checkEntryName checks a response entry's name: <package>/<path>.sig,
// clean and relative, with no control character.
func checkEntryName(name string) error {
	if len(name) > maxName+1+maxPath+len(".sig") {
		return fmt.Errorf("a name of %d bytes is too long", len(name))
	}
	if _, err := debname.CleanPath(name); err != nil {
		return err
	}
	pkg, rest, _ := strings.Cut(name, "/")
	switch {
	case strings.ContainsFunc(name, unicode.IsControl):
		return fmt.Errorf("%s contains a control character", inputerr.Value(name))
	case !strings.HasSuffix(name, ".sig") || strings.HasSuffix(name, "/.sig"):
		return fmt.Errorf("%s is not the name of a signature (<package>/<path>.sig)", inputerr.Name(name))
	case rest == "" || !debname.ValidPackage(pkg):
		return fmt.Errorf("%s does not start with a package name (<package>/<path>.sig)", inputerr.Name(name))
	}
	return nil
}

// ReadResponse reads a response that WriteResponse wrote, or that a tar
// program made of a --signatures directory without directory entries,
// and returns its signatures by path (<package>/<path>.sig). It takes
// only regular files with clean relative names of that shape, each once,
// each of 1 to MaxSignatureSize bytes; at most MaxResponseEntries of
// them and MaxResponseSize bytes in all; then tar's two zero blocks and
// nothing but zeros. Errors are *inputerr.Error naming the entry and the
// offset of its header.
func ReadResponse(r io.Reader) (map[string][]byte, error) {
	return readResponse(r, MaxResponseEntries, MaxResponseSize)
}

// readResponse is ReadResponse with other bounds, which tests make small.
func readResponse(r io.Reader, maxEntries int, maxSize int64) (map[string][]byte, error) {
	cr := &countingReader{r: r, limit: maxSize}
	tr := tar.NewReader(cr)
	sigs := map[string][]byte{}
	var dataEnd int64 // where the last entry's data and padding end
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("truncated: %w", err)
			}
			return nil, &inputerr.Error{Offset: cr.n, Err: err}
		}
		at := cr.n - blockSize // the header block just read
		bad := func(format string, args ...any) error {
			return &inputerr.Error{Path: hdr.Name, Offset: at, Err: fmt.Errorf(format, args...)}
		}
		if len(sigs) == maxEntries {
			return nil, bad("more than %d signatures", maxEntries)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, bad("%s, but a response holds only regular files", typeName(hdr.Typeflag))
		}
		if err := checkEntryName(hdr.Name); err != nil {
			return nil, bad("%w", err)
		}
		if _, dup := sigs[hdr.Name]; dup {
			return nil, bad("given twice")
		}
		if hdr.Size < 1 || hdr.Size > MaxSignatureSize {
			return nil, bad("a signature of %d bytes (want 1 to %d)", hdr.Size, MaxSignatureSize)
		}
		data := make([]byte, hdr.Size)
		if _, err := io.ReadFull(tr, data); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, bad("truncated: %w", err)
		}
		sigs[hdr.Name] = data
		dataEnd = cr.n + (blockSize-hdr.Size%blockSize)%blockSize
	}
	// archive/tar also ends at the end of the input, or after one zero
	// block: the end must be two zero blocks after the last entry.
	if cr.n == 0 {
		return nil, &inputerr.Error{Offset: 0, Err: errors.New("empty: not a tar archive")}
	}
	if cr.n-dataEnd != 2*blockSize {
		return nil, &inputerr.Error{Offset: cr.n, Err: errors.New("truncated: no end-of-archive marker (two zero blocks)")}
	}
	if len(sigs) == 0 {
		return nil, &inputerr.Error{Offset: 0, Err: errors.New("holds no signatures")}
	}
	rest, err := io.ReadAll(io.LimitReader(cr, maxTrailer+1))
	if err != nil {
		return nil, &inputerr.Error{Offset: cr.n, Err: err}
	}
	if i := slices.IndexFunc(rest, func(b byte) bool { return b != 0 }); i >= 0 || len(rest) > maxTrailer {
		if i < 0 {
			i = maxTrailer
		}
		return nil, &inputerr.Error{Offset: cr.n - int64(len(rest)) + int64(i), Err: errors.New("data after the end of the archive")}
	}
	return sigs, nil
}

// typeName names a tar entry type for a message.
func typeName(flag byte) string {
	switch flag {
	case tar.TypeDir:
		return "a directory"
	case tar.TypeSymlink:
		return "a symbolic link"
	case tar.TypeLink:
		return "a hard link"
	case tar.TypeChar, tar.TypeBlock:
		return "a device"
	case tar.TypeFifo:
		return "a FIFO"
	}
	return fmt.Sprintf("an entry of type %s", inputerr.Value(string(flag)))
}

// countingReader counts what is read through it and fails past limit.
type countingReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n >= c.limit {
		// At the limit: the end of the input is fine, another byte is not.
		var b [1]byte
		if n, err := c.r.Read(b[:]); n == 0 {
			return 0, err
		}
		return 0, fmt.Errorf("response is larger than %d bytes", c.limit)
	}
	if int64(len(p)) > c.limit-c.n {
		p = p[:c.limit-c.n]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
