package template

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/mksigned/mksigned/internal/debname"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/sign"
	"github.com/mksigned/mksigned/sign/sigtype"
)

// SigType is the kind of signature files.json asks for.
type SigType = sign.SigType

// The signature types Debian's signing service knows (docs/formats.md §4.2);
// package sigtype is the registry files.json is checked against.
const (
	EFI         = sign.EFI         // Authenticode over a PE/COFF image
	LinuxModule = sign.LinuxModule // PKCS#7 appended to a kernel module
)

// Manifest is a parsed files.json: which files of which unsigned packages
// to sign, and how.
type Manifest struct {
	// Version is "" for the unversioned shapes and "2" for grub's.
	Version string
	// Packages is sorted by Name.
	Packages []Package
}

// Package is one unsigned binary package named in files.json.
type Package struct {
	Name string
	// TrustedCerts are lower-case hex SHA-256 fingerprints of certificates
	// the signed code itself trusts. Kept, not yet enforced.
	TrustedCerts []string
	// Files in the order files.json lists them.
	Files []File
}

// File is one file to sign, relative to the unsigned package's root.
type File struct {
	Path    string // clean and local, e.g. "usr/lib/shim/fbx64.efi"
	SigType SigType
}

// ErrUnsafePath marks a path that is absolute or leaves its tree.
var ErrUnsafePath = debname.ErrUnsafePath

// maxFilesJSON bounds the size of files.json, which is parsed into several
// times its size (one of 4 MiB takes about 50 MB and 1.5 s to check, its
// 116,000 entries each against dpkg-source's excludes). Debian's largest
// today (linux-image-6.12-arm64) is 900 bytes; a template listing every
// kernel module would have about 1 MB (an estimate: 4,000 entries of about
// 100 bytes a flavour, for three flavours).
const maxFilesJSON = 4 << 20

type jsonPackage struct {
	TrustedCerts *[]string   `json:"trusted_certs"`
	Files        *[]jsonFile `json:"files"`
}

type jsonFile struct {
	SigType *string `json:"sig_type"`
	File    *string `json:"file"`
}

// ParseManifest parses files.json in any of the three shapes Debian uses
// (docs/formats.md §4.1):
//
//	{"<package>": {...}}                       bare, 2018
//	{"packages": {"<package>": {...}}}         fwupd, shim, linux
//	{"version": "2", "packages": {...}}        grub since 2019
//
// Errors are *inputerr.Error with Field set to the JSON path of the problem.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > maxFilesJSON {
		return nil, inputerr.Errorf("files.json is %d bytes, more than the limit of %d", len(data), maxFilesJSON)
	}
	var top map[string]json.RawMessage
	if err := strictUnmarshal(data, &top); err != nil {
		return nil, jsonError(data, "", err)
	}
	if top == nil {
		return nil, &inputerr.Error{Offset: inputerr.NoOffset, Err: errors.New("files.json must be a JSON object")}
	}
	m := &Manifest{}
	var pkgs map[string]json.RawMessage
	prefix := ""
	if raw, ok := top["version"]; ok {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fieldErr("version", err)
		}
		switch v := v.(type) {
		case string:
			m.Version = v
		case float64:
			m.Version = fmt.Sprint(v)
		}
		if m.Version != "2" {
			return nil, fieldErr("version", fmt.Errorf("unknown files.json version %s (mksigned knows \"2\")", raw))
		}
	}
	if raw, ok := top["packages"]; ok {
		if err := strictUnmarshal(raw, &pkgs); err != nil || pkgs == nil {
			return nil, fieldErr("packages", errors.New("must be an object mapping package names to {trusted_certs, files}"))
		}
		prefix = "packages."
		// Version 2 is "extendable": other top-level keys may appear. The
		// unversioned "packages" form has none.
		if m.Version == "" {
			for k := range top {
				if k != "packages" {
					return nil, fieldErr(k, errors.New("unknown top-level key next to \"packages\""))
				}
			}
		}
	} else {
		if m.Version != "" {
			return nil, fieldErr("packages", errors.New("missing: version 2 needs a \"packages\" object"))
		}
		pkgs = top
	}
	if len(pkgs) == 0 {
		return nil, fieldErr(strings.TrimSuffix(prefix, "."), errors.New("names no package to sign"))
	}
	for name, raw := range pkgs {
		p, err := parsePackage(prefix+name, name, raw)
		if err != nil {
			return nil, err
		}
		m.Packages = append(m.Packages, *p)
	}
	sort.Slice(m.Packages, func(i, j int) bool { return m.Packages[i].Name < m.Packages[j].Name })
	return m, nil
}

func parsePackage(field, name string, raw json.RawMessage) (*Package, error) {
	if !debname.ValidPackage(name) {
		return nil, fieldErr(field, fmt.Errorf("%q is not a valid Debian package name", name))
	}
	var jp jsonPackage
	if err := strictUnmarshal(raw, &jp); err != nil {
		return nil, fieldErr(field, err)
	}
	if jp.Files == nil {
		return nil, fieldErr(field+".files", errors.New("missing"))
	}
	p := &Package{Name: name, TrustedCerts: []string{}}
	if jp.TrustedCerts != nil {
		for i, fp := range *jp.TrustedCerts {
			f := fmt.Sprintf("%s.trusted_certs[%d]", field, i)
			b, err := hex.DecodeString(fp)
			if err != nil || len(b) != 32 {
				return nil, fieldErr(f, fmt.Errorf("%q is not a SHA-256 fingerprint (64 hex digits)", fp))
			}
			p.TrustedCerts = append(p.TrustedCerts, hex.EncodeToString(b))
		}
	}
	seen := map[string]bool{}
	for i, jf := range *jp.Files {
		f := fmt.Sprintf("%s.files[%d]", field, i)
		if jf.File == nil {
			return nil, fieldErr(f+".file", errors.New("missing"))
		}
		if jf.SigType == nil {
			return nil, fieldErr(f+".sig_type", errors.New("missing"))
		}
		st := SigType(*jf.SigType)
		if _, err := sigtype.Get(*jf.SigType); err != nil {
			return nil, fieldErr(f+".sig_type", err)
		}
		clean, err := CleanPath(*jf.File)
		if err != nil {
			return nil, fieldErr(f+".file", err)
		}
		if seen[clean] {
			return nil, fieldErr(f+".file", fmt.Errorf("%q is listed twice", clean))
		}
		seen[clean] = true
		p.Files = append(p.Files, File{Path: clean, SigType: st})
	}
	if len(p.Files) == 0 {
		return nil, fieldErr(field+".files", errors.New("is empty"))
	}
	return p, nil
}

// CleanPath checks a path taken from a template or package and returns it;
// see debname.CleanPath. Errors wrap ErrUnsafePath.
func CleanPath(p string) (string, error) { return debname.CleanPath(p) }

func strictUnmarshal(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	// Only white space may follow, as for Python's json.loads, which
	// Debian's signing service reads files.json with: Decoder.More says
	// false at a stray "}" or "]".
	if rest := bytes.TrimLeft(data[d.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return &trailingError{off: int64(len(data) - len(rest)), rest: rest[:min(len(rest), 16)]}
	}
	return nil
}

// trailingError is data after the one JSON value.
type trailingError struct {
	off  int64
	rest []byte
}

func (e *trailingError) Error() string {
	return fmt.Sprintf("trailing data %q after the JSON value", e.rest)
}

func fieldErr(field string, err error) error {
	return &inputerr.Error{Field: field, Offset: inputerr.NoOffset, Err: err}
}

func jsonError(data []byte, field string, err error) error {
	off := inputerr.NoOffset
	var se *json.SyntaxError
	var te *trailingError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.off
	}
	return &inputerr.Error{Field: field, Offset: off, Err: fmt.Errorf("invalid JSON: %w", err)}
}
