package sigreq

// Checking every field of a request, whoever made it: Parse for the
// signing host, Marshal for `mksigned request`.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mksigned/mksigned/internal/debname"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/sign/sigtype"
)

// Validate checks every field of r and returns the first fault as an
// *inputerr.Error whose Field is the JSON path ("files[3].digest"):
//   - Format and Version are known;
//   - template and package names follow Debian's rule for package names,
//     versions are Debian versions (digits first; letters, digits and
//     .+~:- only); fingerprints are 64 lower-case hex digits, and
//     trusted_certs is sorted without duplicates;
//   - signing_time is set, in UTC, to the second;
//   - there are 1 to MaxFiles files, no two with the same package and
//     path, each path clean and relative, each sig_type known (package
//     sigtype), its digest_algorithm the type's, its digest lower-case hex
//     of the type's length, its sha256 64 lower-case hex digits and its
//     size not negative. A path may not hold a control character, which
//     would reach file names, tar headers and the audit log, nor a
//     character that shows as other than it is there (see invisible);
//   - no file's signature path (<package>/<path>.sig) is the directory
//     of another's.
func (r *Request) Validate() error {
	switch {
	case r.Format != Format:
		return fieldErr("format", fmt.Errorf("%s is not %q", inputerr.Value(r.Format), Format))
	case !slices.Contains(KnownVersions, r.Version):
		return fieldErr("version", fmt.Errorf("unknown request version %d (this mksigned reads version %s)", r.Version, knownVersions()))
	}
	if err := r.Template.validate("template"); err != nil {
		return err
	}
	t := r.SigningTime
	_, offset := t.Zone()
	switch {
	case t.IsZero():
		return fieldErr("signing_time", errors.New("missing"))
	case offset != 0:
		return fieldErr("signing_time", fmt.Errorf("%s is not in UTC", t.Format(time.RFC3339)))
	case t.Nanosecond() != 0:
		return fieldErr("signing_time", fmt.Errorf("%s is not a whole second", t.Format(time.RFC3339Nano)))
	}
	switch {
	case len(r.Files) == 0:
		return fieldErr("files", errors.New("is empty: nothing to sign"))
	case len(r.Files) > MaxFiles:
		return fieldErr("files", fmt.Errorf("has %d files, more than the %d a request may have", len(r.Files), MaxFiles))
	}
	first := make(map[string]int, len(r.Files)) // package and path → index
	for i := range r.Files {
		f := &r.Files[i]
		field := fmt.Sprintf("files[%d]", i)
		if err := f.validate(field); err != nil {
			return err
		}
		key := f.Package + "\x00" + f.Path
		if j, dup := first[key]; dup {
			return fieldErr(field+".path", fmt.Errorf("%s of package %s is listed twice (first in files[%d])", inputerr.Name(f.Path), f.Package, j))
		}
		first[key] = i
	}
	return checkSigDirs(r.Files)
}

// checkSigDirs refuses files whose signature paths clash: one file's
// <package>/<path>.sig the directory of another's, as "x.efi" and
// "x.efi.sig/y.efi" would make. No response could hold both, and the
// signing host would learn so only after signing and recording them.
func checkSigDirs(files []File) error {
	sigs := make(map[string]int, len(files)) // signature path → index
	for i := range files {
		sigs[files[i].SignaturePath()] = i
	}
	for i := range files {
		p := files[i].SignaturePath()
		for j := strings.IndexByte(p, '/'); j >= 0; j = next(p, j) {
			if k, ok := sigs[p[:j]]; ok {
				return fieldErr(fmt.Sprintf("files[%d].path", i), fmt.Errorf("%s would put its signature under %s, the signature of files[%d] %s", inputerr.Name(files[i].Path), inputerr.Name(p[:j]), k, inputerr.Name(files[k].Path)))
			}
		}
	}
	return nil
}

// next is the index of the '/' in p after the one at j, or -1.
func next(p string, j int) int {
	if k := strings.IndexByte(p[j+1:], '/'); k >= 0 {
		return j + 1 + k
	}
	return -1
}

func (t *Template) validate(field string) error {
	if err := checkPackage(field+".name", t.Name); err != nil {
		return err
	}
	// A template given as a directory is no package: it has neither a
	// version nor a .deb to hash.
	if t.Version != "" || t.DebSHA256 != "" {
		if err := checkVersion(field+".version", t.Version); err != nil {
			return err
		}
	}
	if err := checkPackage(field+".source", t.Source); err != nil {
		return err
	}
	if err := checkVersion(field+".source_version", t.SourceVersion); err != nil {
		return err
	}
	if t.DebSHA256 != "" {
		if err := checkHex(field+".deb_sha256", t.DebSHA256, 32, "sha256"); err != nil {
			return err
		}
	}
	switch {
	case t.TrustedCerts == nil:
		return fieldErr(field+".trusted_certs", errors.New("missing (an empty list is written [])"))
	case len(t.TrustedCerts) > MaxTrustedCerts:
		return fieldErr(field+".trusted_certs", fmt.Errorf("has %d fingerprints, more than %d", len(t.TrustedCerts), MaxTrustedCerts))
	}
	for i, fp := range t.TrustedCerts {
		f := fmt.Sprintf("%s.trusted_certs[%d]", field, i)
		if err := checkHex(f, fp, 32, "SHA-256 fingerprint"); err != nil {
			return err
		}
		if i > 0 && fp <= t.TrustedCerts[i-1] {
			return fieldErr(f, fmt.Errorf("%s is out of order or repeated: trusted_certs is sorted, without duplicates", fp))
		}
	}
	return nil
}

func (f *File) validate(field string) error {
	if err := checkPackage(field+".package", f.Package); err != nil {
		return err
	}
	if err := checkVersion(field+".package_version", f.PackageVersion); err != nil {
		return err
	}
	if len(f.Path) > maxPath {
		return fieldErr(field+".path", fmt.Errorf("is %d bytes long, more than %d", len(f.Path), maxPath))
	}
	if _, err := debname.CleanPath(f.Path); err != nil {
		return fieldErr(field+".path", err)
	}
	if strings.ContainsFunc(f.Path, unicode.IsControl) {
		return fieldErr(field+".path", fmt.Errorf("%s contains a control character", inputerr.Value(f.Path)))
	}
	if strings.ContainsFunc(f.Path, invisible) {
		return fieldErr(field+".path", fmt.Errorf("%s contains an invisible or replaced character (a format character, a line or paragraph separator, or U+FFFD)", inputerr.Value(f.Path)))
	}
	ty, err := sigtype.Get(f.SigType)
	if err != nil {
		return fieldErr(field+".sig_type", err)
	}
	if f.Size < 0 {
		return fieldErr(field+".size", fmt.Errorf("%d is negative", f.Size))
	}
	if err := checkHex(field+".sha256", f.SHA256, 32, "sha256"); err != nil {
		return err
	}
	if f.DigestAlgorithm != ty.DigestAlgorithm {
		return fieldErr(field+".digest_algorithm", fmt.Errorf("%s is not %s's, %q", inputerr.Value(f.DigestAlgorithm), ty.Name, ty.DigestAlgorithm))
	}
	return checkHex(field+".digest", f.Digest, ty.DigestSize, ty.DigestAlgorithm)
}

// invisible reports whether r would show in the audit log or a message
// as other than it is: a format character (a bidi override, a zero-width
// space), a line or paragraph separator, or U+FFFD, what JSON decoding
// makes of a lone surrogate escape.
func invisible(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) || r == utf8.RuneError
}

// checkPackage checks a package name.
func checkPackage(field, name string) error {
	if len(name) > maxName || !debname.ValidPackage(name) {
		return fieldErr(field, fmt.Errorf("%s is not a valid Debian package name", inputerr.Value(name)))
	}
	return nil
}

// checkVersion checks a Debian version, loosely: what dpkg would accept
// passes, and nothing that could be read as a path or a second field.
func checkVersion(field, v string) error {
	ok := v != "" && len(v) <= maxName && v[0] >= '0' && v[0] <= '9'
	for _, c := range []byte(v) {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c == '.' || c == '+' || c == '~' || c == ':' || c == '-':
		default:
			ok = false
		}
	}
	if !ok {
		return fieldErr(field, fmt.Errorf("%s is not a Debian version", inputerr.Value(v)))
	}
	return nil
}

// checkHex checks that s is n bytes in lower-case hex.
func checkHex(field, s string, n int, what string) error {
	ok := len(s) == 2*n
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			ok = false
		}
	}
	if !ok {
		return fieldErr(field, fmt.Errorf("%s is not a %s (%d lower-case hex digits)", inputerr.Value(s), what, 2*n))
	}
	return nil
}
