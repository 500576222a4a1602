package job

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/inputfile"
	"github.com/mksigned/mksigned/sign"
	"github.com/mksigned/mksigned/sign/sigtype"
	"github.com/mksigned/mksigned/sigreq"
	"github.com/mksigned/mksigned/template"
)

// source is where a run's signatures come from: a key (keySource), files
// made elsewhere (givenSource: a --signatures directory or a sign-request
// response), nowhere (a dry run), or, for a request, only the digests
// (digestSource). The readers and workers are the same for each; a
// policy or an audit log wraps a source instead of adding branches.
//
// obtain is called from several workers at once, once per listed file,
// after the file was checked as its sig_type needs: with the whole file
// (data) for formats held whole, else with its digest as it streamed
// past. It sets it.Sig, or for a request it.Digest.
type source interface {
	obtain(it *Item, data, digest []byte) error
}

// digestOf is it's digest: the one streamed, or computed from data.
func digestOf(it *Item, data, digest []byte) ([]byte, error) {
	if digest != nil {
		return digest, nil
	}
	return formats[it.File.SigType].digest(data)
}

// keySource signs with a key, at the run's epoch.
type keySource struct {
	key   *sign.Key
	epoch time.Time
}

func (s keySource) obtain(it *Item, data, digest []byte) error {
	digest, err := digestOf(it, data, digest)
	if err != nil {
		return err
	}
	t, err := sigtype.Get(string(it.File.SigType))
	if err != nil {
		return err
	}
	sig, err := t.Sign(s.key.Signer, s.key.Cert, digest, s.epoch)
	if err != nil {
		return fmt.Errorf("signing %s %s: %w", it.Package, it.File.Path, err)
	}
	it.Sig, it.Digest = sig, digest // the digest for an audit log
	return nil
}

// noSource obtains nothing: a dry run checks the files only.
type noSource struct{}

func (noSource) obtain(*Item, []byte, []byte) error { return nil }

// digestSource records what a signing host is to sign: the digest of each
// file, and the SHA-256 of the whole file (set by the reader, see
// collectOptions.hashFiles).
type digestSource struct{}

func (digestSource) obtain(it *Item, data, digest []byte) error {
	d, err := digestOf(it, data, digest)
	if err != nil {
		return err
	}
	it.Digest = d
	if data != nil {
		h := sha256.Sum256(data)
		it.SHA256 = h[:]
	}
	return nil
}

// givenSource takes signatures made elsewhere and checks each against its
// file: one that does not match, or is missing, fails the run.
type givenSource struct {
	store sigStore
	cert  *x509.Certificate
}

func (s givenSource) obtain(it *Item, data, digest []byte) error {
	f := formats[it.File.SigType]
	rel := signatureFile(it)
	where := s.store.where(rel)
	sig, err := s.store.read(rel)
	if err != nil {
		return err
	}
	if it.File.SigType == template.LinuxModule && s.cert == nil {
		return fmt.Errorf("%s: linux-module signatures carry no certificate: pass --cert to check them against the files", where)
	}
	verify := func() error { return f.verify(data, sig, s.cert) }
	if digest != nil {
		verify = func() error { return f.verifyDigest(digest, sig, s.cert) }
	}
	if err := verify(); err != nil {
		return fmt.Errorf("%s does not match %s %s: %w", where, it.Package, it.File.Path, err)
	}
	it.Sig = sig
	return nil
}

// sigStore holds detached signatures by <package>/<path>.sig: a
// --signatures directory, or the tar a sign-request wrote.
type sigStore interface {
	// read returns one signature's DER (see trimDER).
	read(rel string) ([]byte, error)
	// where names rel for errors.
	where(rel string) string
	// names lists every signature the store holds, for checkUnused.
	names() ([]string, error)
}

// openSignatures opens --signatures: a directory, or a response file
// (sigreq.WriteResponse's tar), which is read whole, bounded.
func openSignatures(path string) (sigStore, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--signatures: %w", err)
	}
	if fi.IsDir() {
		return dirStore(path), nil
	}
	f, err := inputfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--signatures: %w", err)
	}
	defer f.Close()
	sigs, err := sigreq.ReadResponse(f)
	if err != nil {
		return nil, inputerr.WithFile(err, path)
	}
	return &responseStore{path: path, sigs: sigs}, nil
}

// dirStore is a --signatures directory, read through an os.Root so that
// nothing outside it is read.
type dirStore string

func (d dirStore) where(rel string) string { return filepath.Join(string(d), rel) }

func (d dirStore) read(rel string) ([]byte, error) { return readSignature(string(d), rel) }

func (d dirStore) names() ([]string, error) {
	root, err := inputfile.OpenRoot(string(d))
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var out []string
	err = fs.WalkDir(root.FS(), ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// responseStore is a sign-request response, held in memory.
type responseStore struct {
	path string
	sigs map[string][]byte
}

func (r *responseStore) where(rel string) string { return r.path + ": " + rel }

func (r *responseStore) read(rel string) ([]byte, error) {
	b, ok := r.sigs[rel]
	if !ok {
		return nil, fmt.Errorf("%s: no signature for %s: the response is for other files, or incomplete", r.path, rel)
	}
	return trimDER(r.where(rel), b)
}

func (r *responseStore) names() ([]string, error) {
	out := make([]string, 0, len(r.sigs))
	for n := range r.sigs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// readSignature reads one detached signature through an os.Root, so
// nothing outside dir is read, and keeps only its DER (trimDER).
func readSignature(dir, rel string) ([]byte, error) {
	where := filepath.Join(dir, rel)
	root, err := inputfile.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := inputfile.OpenInRoot(root, rel)
	if err != nil {
		return nil, fmt.Errorf("signature for %s: %w", rel, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSignature+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if len(b) > maxSignature {
		return nil, fmt.Errorf("%s: more than %d bytes: not a detached signature", where, maxSignature)
	}
	return trimDER(where, b)
}

// trimDER keeps only the DER of a detached signature: zero padding after
// it (left by tools that count it in a WIN_CERTIFICATE's length) would
// otherwise end up in the source package and change the signed binary.
// Anything else after it is refused.
func trimDER(where string, b []byte) ([]byte, error) {
	n, err := derLength(b)
	if err != nil {
		return nil, &inputerr.Error{File: where, Offset: 0, Err: err}
	}
	for i, c := range b[n:] {
		if c != 0 {
			return nil, &inputerr.Error{File: where, Offset: int64(n + i), Err: errors.New("data after the DER signature")}
		}
	}
	return b[:n], nil
}

// derLength returns the length of the DER SEQUENCE at the start of b
// (X.690 §8.1: tag, then a short or long form length). The length is
// computed in int64: four length bytes overflow a 32-bit int.
func derLength(b []byte) (int, error) {
	if len(b) < 2 || b[0] != 0x30 {
		return 0, errors.New("not a DER-encoded PKCS#7 signature (no SEQUENCE)")
	}
	n, hdr := int64(b[1]), int64(2)
	if n&0x80 != 0 {
		k := int(n & 0x7f)
		if k == 0 || k > 4 || len(b) < 2+k {
			return 0, errors.New("bad DER length")
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int64(c)
		}
		hdr += int64(k)
	}
	if hdr+n > int64(len(b)) {
		return 0, fmt.Errorf("DER length %d runs past the end of the %d-byte file", hdr+n, len(b))
	}
	return int(hdr + n), nil
}

// checkUnused refuses signatures in the store that no listed file uses:
// they point at a stale or wrong directory, or a response for another
// request.
func checkUnused(store sigStore, items []*Item) error {
	want := map[string]bool{}
	for _, it := range items {
		want[signatureFile(it)] = true
	}
	names, err := store.names()
	if err != nil {
		return err
	}
	for _, n := range names {
		if !want[n] {
			return fmt.Errorf("%s: no file of the template's files.json has this signature", store.where(n))
		}
	}
	return nil
}

// signatureFile is where --signatures holds it's signature.
func signatureFile(it *Item) string { return it.Package + "/" + it.File.Path + ".sig" }
