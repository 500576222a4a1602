package deb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"pault.ag/go/debian/control"
	"pault.ag/go/debian/version"

	"github.com/mksigned/mksigned/internal/deb822"
	"github.com/mksigned/mksigned/internal/debname"
	"github.com/mksigned/mksigned/internal/inputerr"
)

// maxControlSize bounds the control file read into memory. Real ones are a
// few KiB; dpkg's own limit is far larger, but nothing we read needs more.
const maxControlSize = 1 << 20

// Package is a binary package's control data (the "control" file of its
// control.tar).
type Package struct {
	Name         string // Package field
	Version      string // Version field, as written (with its epoch: "1:1.4-1")
	Architecture string // Architecture field
	// DataMember is the name of the package's data member
	// ("data.tar.xz"); it is set before the first entry is visited.
	DataMember string
	// Source is the source package's name: the Source field without its
	// optional "(version)", or Name when the field is absent.
	Source string
	// SourceVersion is the version in "Source: name (version)" (binNMUs),
	// or Version.
	SourceVersion string
	// Control holds every field in file order. Multi-line values are as
	// pault.ag/go/debian/control gives them (read by internal/deb822, which
	// reads as pault does, in linear time): continuation lines without
	// their leading space, " ." as an empty line. Use
	// control.UnpackFromParagraph to fill a control.BinaryParagraph.
	Control control.Paragraph
}

var (
	// archRE is an architecture name (dpkg-architecture -L) or "all".
	archRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	// sourceRE is "name" or "name (version)".
	sourceRE = regexp.MustCompile(`^([^ ()]+)(?: \(([^ ()]+)\))?$`)
	// fieldNameRE is a deb822 field name (deb822(5)).
	// It must not start with "#" or "-".
	fieldNameRE = regexp.MustCompile(`^[!-"$-,.-9;-~][!-9;-~]*$`)
)

// parseControl parses the control file of a binary package: exactly one
// deb822 paragraph with Package, Version and Architecture. Errors are
// *inputerr.Error with Field set where a field is at fault.
func parseControl(data []byte) (*Package, error) {
	fail := func(field string, err error) error {
		return &inputerr.Error{Offset: inputerr.NoOffset, Field: field, Err: err}
	}
	if bytes.HasPrefix(data, []byte("-----BEGIN PGP")) {
		return nil, fail("", errors.New("control file is OpenPGP-signed; a .deb's is never"))
	}
	pr, err := deb822.NewReader(data)
	if err != nil {
		return nil, fail("", err)
	}
	para, err := pr.Next()
	if err == io.EOF {
		return nil, fail("", errors.New("control file is empty"))
	}
	if err != nil {
		return nil, fail("", fmt.Errorf("bad control file: %w", err))
	}
	if _, err := pr.Next(); err != io.EOF {
		if err != nil {
			return nil, fail("", fmt.Errorf("bad control file: %w", err))
		}
		return nil, fail("", errors.New("control file has more than one paragraph"))
	}
	seen := make(map[string]bool, len(para.Order))
	for _, k := range para.Order {
		if !fieldNameRE.MatchString(k) {
			return nil, fail("", fmt.Errorf("bad field name %q", k))
		}
		lk := strings.ToLower(k)
		if seen[lk] {
			return nil, fail(k, errors.New("duplicate field"))
		}
		seen[lk] = true
	}
	// Field names are case-insensitive (deb822(5)).
	get := func(k string) (string, bool) {
		for _, f := range para.Order {
			if strings.EqualFold(f, k) {
				return para.Values[f], true
			}
		}
		return "", false
	}
	value := func(k string) string { v, _ := get(k); return v }

	pkg := &Package{
		Name:         value("Package"),
		Version:      value("Version"),
		Architecture: value("Architecture"),
		Control:      *para,
	}
	if !debname.ValidPackage(pkg.Name) {
		return nil, fail("Package", fmt.Errorf("bad package name %q", pkg.Name))
	}
	if _, err := version.Parse(pkg.Version); err != nil {
		return nil, fail("Version", fmt.Errorf("bad version %q: %w", pkg.Version, err))
	}
	if !archRE.MatchString(pkg.Architecture) {
		return nil, fail("Architecture", fmt.Errorf("bad architecture %q", pkg.Architecture))
	}
	pkg.Source, pkg.SourceVersion = pkg.Name, pkg.Version
	if src, ok := get("Source"); ok {
		m := sourceRE.FindStringSubmatch(src)
		if m == nil || !debname.ValidPackage(m[1]) {
			return nil, fail("Source", fmt.Errorf("bad source %q", src))
		}
		pkg.Source = m[1]
		if m[2] != "" {
			if _, err := version.Parse(m[2]); err != nil {
				return nil, fail("Source", fmt.Errorf("bad source version %q: %w", m[2], err))
			}
			pkg.SourceVersion = m[2]
		}
	}
	return pkg, nil
}
