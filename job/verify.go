package job

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"pault.ag/go/debian/control"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/inputfile"
	"github.com/mksigned/mksigned/template"
)

// maxDsc bounds the .dsc verify reads. The -signed .dsc of Debian's
// kernel template, with its 61 binary packages, is about 9 KB. pault's
// parser, which reads it, is quadratic in the length of a line or field:
// at this size it takes under half a second.
const maxDsc = 64 << 10

// VerifyOptions are the inputs of Verify.
type VerifyOptions struct {
	DSC      string
	Unsigned []string
	Cert     *x509.Certificate // nil: EFI signatures are checked against their own certificate
	Signed   []string          // signed .debs whose files the reattached files must be among
	Out      io.Writer         // one line per signature
}

// VerifyLine is the outcome for one signature of the source package.
type VerifyLine struct {
	Package, File string
	Err           error  // nil when OK
	Note          string // what was checked, and where the file was found
}

func (l VerifyLine) String() string {
	if l.Err != nil {
		return fmt.Sprintf("FAIL %s %s: %v", l.Package, l.File, l.Err)
	}
	return fmt.Sprintf("OK   %s %s: %s", l.Package, l.File, l.Note)
}

// Verify checks every signature in a -signed source package: it attaches
// each to its unsigned file in memory and checks the result
// cryptographically; with Signed, the result must also be, byte for byte,
// one of the files of the signed packages. It writes one line per signature
// to opts.Out and returns the lines. An error means the inputs could not be
// read at all, or ctx was done (the error then wraps ctx's): every read of
// the inputs checks it.
func Verify(ctx context.Context, opts VerifyOptions) ([]VerifyLine, error) {
	sigs, err := readSourceSignatures(ctx, opts.DSC)
	if err != nil {
		return nil, err
	}
	if len(sigs) == 0 {
		return nil, fmt.Errorf("%s: the source package has no debian/signatures/<package>/<file>.sig", filepath.Base(opts.DSC))
	}
	files := map[string]map[string][]byte{} // package → path → data
	wanted := map[string]map[string]bool{}
	for _, s := range sigs {
		if wanted[s.pkg] == nil {
			wanted[s.pkg] = map[string]bool{}
		}
		wanted[s.pkg][s.path] = true
	}
	for _, p := range opts.Unsigned {
		name, got, err := readFiles(ctx, p, wanted)
		if err != nil {
			return nil, err
		}
		if _, dup := files[name]; dup {
			return nil, fmt.Errorf("%s: package %s is given twice", filepath.Base(p), name)
		}
		files[name] = got
	}
	signed := map[[32]byte]string{}
	for _, p := range opts.Signed {
		if err := hashAll(ctx, p, signed); err != nil {
			return nil, err
		}
	}
	var lines []VerifyLine
	for _, s := range sigs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l := VerifyLine{Package: s.pkg, File: s.path}
		l.Note, l.Err = verifyOne(s, files, opts, signed)
		lines = append(lines, l)
		if opts.Out != nil {
			fmt.Fprintln(opts.Out, l)
		}
	}
	return lines, nil
}

type sourceSig struct {
	pkg, path string
	sig       []byte
}

func verifyOne(s sourceSig, files map[string]map[string][]byte, opts VerifyOptions, signed map[[32]byte]string) (string, error) {
	pf, ok := files[s.pkg]
	if !ok {
		return "", fmt.Errorf("package %s was not given with --unsigned", s.pkg)
	}
	data, ok := pf[s.path]
	if !ok {
		return "", fmt.Errorf("not found in package %s", s.pkg)
	}
	var st template.SigType
	switch {
	case bytes.HasPrefix(data, []byte("MZ")):
		st = template.EFI
	case bytes.HasPrefix(data, []byte("\x7fELF")):
		st = template.LinuxModule
	default:
		return "", errors.New("neither a PE/COFF image nor an ELF kernel module")
	}
	f := formats[st]
	attached, err := f.attach(data, s.sig)
	if err != nil {
		return "", fmt.Errorf("%s: attaching: %w", st, err)
	}
	if st == template.LinuxModule && opts.Cert == nil {
		// A module signature names its signer but carries no
		// certificate: without one nothing can be checked.
		return "", errors.New("linux-module signatures carry no certificate: give --cert to check them")
	}
	if err := f.verify(data, s.sig, opts.Cert); err != nil {
		return "", fmt.Errorf("%s: %w", st, err)
	}
	note := string(st) + " signature valid"
	if opts.Cert != nil {
		note += " for " + opts.Cert.Subject.String()
	} else {
		note += " (against the certificate it carries: give --cert to check the signer)"
	}
	if len(opts.Signed) > 0 {
		where, ok := signed[sha256.Sum256(attached)]
		if !ok {
			sum := sha256.Sum256(attached)
			return "", fmt.Errorf("%s; but the signed file (sha256 %s) is in none of the --signed packages", note, hex.EncodeToString(sum[:]))
		}
		note += "; identical to " + where
	}
	return note, nil
}

// readSourceSignatures reads the .dsc, checks its tarball against the .dsc's
// Checksums-Sha256, and returns the signatures under debian/signatures/.
func readSourceSignatures(ctx context.Context, dscPath string) ([]sourceSig, error) {
	dscData, err := ReadLimited(ctx, dscPath, maxDsc, "a .dsc")
	if err != nil {
		return nil, err
	}
	dsc, err := control.ParseDsc(bufio.NewReader(bytes.NewReader(dscData)), dscPath)
	if errors.Is(err, io.EOF) {
		err = errors.New("empty: a .dsc is a paragraph of fields (Format, Source, Checksums-Sha256, ...)")
	}
	if err != nil {
		return nil, &inputerr.Error{File: dscPath, Offset: inputerr.NoOffset, Err: inputerr.Tame(err)}
	}
	var tarName, want string
	var size int64
	for _, c := range dsc.ChecksumsSha256 {
		if strings.Contains(c.Filename, ".tar.") || strings.HasSuffix(c.Filename, ".tar") {
			tarName, want, size = c.Filename, c.Hash, c.Size
		}
	}
	if tarName == "" {
		return nil, &inputerr.Error{File: dscPath, Field: "Checksums-Sha256", Offset: inputerr.NoOffset, Err: errors.New("names no tarball")}
	}
	// The tarball lies beside the .dsc: a plain file name, nothing the
	// system would refuse (a NUL) or take elsewhere.
	if filepath.Base(tarName) != tarName || tarName == "." || tarName == ".." || strings.ContainsAny(tarName, "\x00/") {
		return nil, &inputerr.Error{File: dscPath, Field: "Checksums-Sha256", Offset: inputerr.NoOffset,
			Err: fmt.Errorf("names the tarball %s, which is not a file name beside the .dsc", inputerr.Name(tarName))}
	}
	tarPath := filepath.Join(filepath.Dir(dscPath), tarName)
	tarFile, got, err := openRegular(tarPath)
	if err != nil {
		return nil, err
	}
	defer tarFile.Close()
	mismatch := func(sum string) error {
		if sum != "" {
			sum = "sha256 " + sum + " and "
		}
		return &inputerr.Error{File: tarName, Offset: inputerr.NoOffset,
			Err: fmt.Errorf("%ssize %d, but %s says %s and %d", sum, got, filepath.Base(dscPath), want, size)}
	}
	if got != size {
		return nil, mismatch("")
	}
	// The tarball is hashed as it is decompressed, and never held; the
	// signatures found count only if the hash is the .dsc's.
	h := sha256.New()
	tarData := &countingReader{r: io.TeeReader(io.LimitReader(tarFile, size), h), size: size}
	checkSum := func() error {
		if _, err := io.Copy(io.Discard, tarData); err != nil {
			return err
		}
		if got = tarData.read(); got != size || hex.EncodeToString(h.Sum(nil)) != want {
			return mismatch(hex.EncodeToString(h.Sum(nil)))
		}
		return nil
	}
	sigs, err := walkSignatures(ctx, tarName, tarData)
	if sumErr := checkSum(); sumErr != nil {
		return nil, sumErr // what the .dsc does not vouch for was not read
	}
	if err != nil {
		return nil, err
	}
	sort.Slice(sigs, func(i, j int) bool {
		if sigs[i].pkg != sigs[j].pkg {
			return sigs[i].pkg < sigs[j].pkg
		}
		return sigs[i].path < sigs[j].path
	})
	return sigs, nil
}

// countingReader counts the bytes read through it, of size. It is safe
// for concurrent use: a decompressor may read from its own goroutine.
type countingReader struct {
	mu   sync.Mutex
	r    io.Reader
	n    int64
	size int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Len is how many bytes are left: the decompressors choose by it.
func (c *countingReader) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(c.size - c.n)
}

// read is how many bytes were read.
func (c *countingReader) read() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// walkSignatures decompresses the tarball tarName from r and returns the
// signatures under debian/signatures/.
func walkSignatures(ctx context.Context, tarName string, r io.Reader) ([]sourceSig, error) {
	rc, err := deb.Decompress(tarName, r)
	if err != nil {
		return nil, inputerr.WithFile(err, tarName)
	}
	defer rc.Close()
	var sigs []sourceSig
	err = deb.WalkTar(inputfile.NewReader(ctx, rc), func(e *deb.Entry, body io.Reader) error {
		_, rest, _ := strings.Cut(e.Path, "/") // drop the top-level directory
		rel, ok := strings.CutPrefix(rest, "debian/signatures/")
		if rest == "debian/signatures" || ok {
			// dpkg-source -x extracts links and the build follows
			// them: a link here is not a signature of this package.
			switch e.Type {
			case '0', '\x00', '5':
			default:
				return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset,
					Err: fmt.Errorf("is %s, but debian/signatures/ may hold only directories and regular files", describeType(e))}
			}
		}
		if !ok || !strings.HasSuffix(rel, ".sig") || (e.Type != '0' && e.Type != '\x00') {
			return nil
		}
		pkg, file, ok := strings.Cut(strings.TrimSuffix(rel, ".sig"), "/")
		if !ok || file == "" {
			return nil
		}
		b, err := io.ReadAll(io.LimitReader(body, maxSignature+1))
		if err != nil {
			return err
		}
		if len(b) > maxSignature {
			return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset, Err: errors.New("signature too large")}
		}
		sigs = append(sigs, sourceSig{pkg: pkg, path: file, sig: b})
		return nil
	})
	if err != nil {
		return nil, inputerr.WithFile(err, tarName)
	}
	return sigs, nil
}

// readFiles returns the package name of the .deb at p and the files of it
// that wanted lists. It reads the whole package, so that a later entry of
// a path (what dpkg would install) is refused, not missed.
func readFiles(ctx context.Context, p string, wanted map[string]map[string]bool) (string, map[string][]byte, error) {
	got := map[string][]byte{}
	pkg, err := deb.ReadFileContext(ctx, p, func(pk *deb.Package, e *deb.Entry, body io.Reader) error {
		w := wanted[pk.Name]
		if w == nil {
			return deb.ErrStop
		}
		if !w[e.Path] || (e.Type != '0' && e.Type != '\x00') {
			return nil
		}
		if err := checkListedSize(e); err != nil {
			return err
		}
		b, err := readBody(body, e.Size)
		if err != nil {
			return err
		}
		got[e.Path] = b // to the end: deb.ReadFile refuses a second copy
		return nil
	})
	if err != nil {
		return "", nil, inputerr.WithFile(err, filepath.Base(p))
	}
	return pkg.Name, got, nil
}

// hashAll records the SHA-256 of every regular file of the .deb at p.
func hashAll(ctx context.Context, p string, into map[[32]byte]string) error {
	name := filepath.Base(p)
	_, err := deb.ReadFileContext(ctx, p, func(_ *deb.Package, e *deb.Entry, body io.Reader) error {
		if e.Type != '0' && e.Type != '\x00' {
			return nil
		}
		h := sha256.New()
		if _, err := io.Copy(h, body); err != nil {
			return err
		}
		var sum [32]byte
		h.Sum(sum[:0])
		if _, seen := into[sum]; !seen {
			into[sum] = name + ":/" + e.Path
		}
		return nil
	})
	return inputerr.WithFile(err, name)
}
