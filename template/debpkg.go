package template

// The code-signing directory as a *-signed-template binary package, the
// form Debian's signing service takes (fwupd-amd64-signed-template,
// shim-helpers-amd64-signed-template).

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"pault.ag/go/debian/version"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/pkggen"
)

// TemplatePackage is the name of the binary package that ships s's
// template: the signed source's name and "-template", as Debian names
// them (fwupd-amd64-signed-template for fwupd-amd64-signed).
func (s *Spec) TemplatePackage() string { return s.Source + "-template" }

// BuildDeb returns the file name (Debian's <package>_<version without
// epoch>_<architecture>.deb) and the bytes of the binary package
// TemplatePackage, which ships files, a code-signing directory from
// BuildDir, under /usr/share/code-signing/<package>/, with the copyright
// and a changelog under /usr/share/doc/<package>/. Like Debian's
// templates it is built from the unsigned packages' source: its Version
// and Architecture are theirs (they must all have the same), and Source
// names their source. Every modification time is date. The same inputs
// give the same bytes.
func (s *Spec) BuildDeb(files map[string][]byte, unsigned map[string]*deb.Package, date time.Time) (string, []byte, error) {
	if len(s.Packages) == 0 {
		return "", nil, fmt.Errorf("no unsigned package")
	}
	first := unsigned[s.Packages[0].Name]
	if first == nil {
		return "", nil, fmt.Errorf("no unsigned package %s given", s.Packages[0].Name)
	}
	for _, sp := range s.Packages[1:] {
		u := unsigned[sp.Name]
		if u == nil {
			return "", nil, fmt.Errorf("no unsigned package %s given", sp.Name)
		}
		if u.Architecture != first.Architecture || u.Source != first.Source || u.SourceVersion != first.SourceVersion {
			return "", nil, fmt.Errorf("unsigned packages %s (%s, %s %s) and %s (%s, %s %s) differ in architecture or source: one template package cannot come from both",
				first.Name, first.Architecture, first.Source, first.SourceVersion, sp.Name, u.Architecture, u.Source, u.SourceVersion)
		}
	}
	v, err := version.Parse(first.Version)
	if err != nil {
		return "", nil, fmt.Errorf("%s: version %q: %w", first.Name, first.Version, err)
	}
	pkg := s.TemplatePackage()
	tree, err := s.debTree(pkg, files, first, date)
	if err != nil {
		return "", nil, err
	}
	size, err := pkggen.InstalledSize(tree)
	if err != nil {
		return "", nil, err
	}
	data, err := pkggen.BinaryDeb([]byte(s.templateControl(pkg, first, size)), tree, date)
	if err != nil {
		return "", nil, err
	}
	noEpoch := v.Version
	if v.Revision != "" {
		noEpoch += "-" + v.Revision
	}
	return fmt.Sprintf("%s_%s_%s.deb", pkg, noEpoch, first.Architecture), data, nil
}

// debTree is what the template package installs.
func (s *Spec) debTree(pkg string, files map[string][]byte, u *deb.Package, date time.Time) ([]pkggen.Entry, error) {
	var tree []pkggen.Entry
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		mode := fs.FileMode(0o644)
		if n == "source-template/debian/rules" {
			mode = 0o755
		}
		tree = append(tree, pkggen.Entry{Name: CodeSigningDir + pkg + "/" + n, Mode: mode, ModTime: date, Data: files[n]})
	}
	// dh_installchangelogs would install the source's changelog; this
	// package has no source tree, so it gets one entry saying where it
	// comes from.
	var cl bytes.Buffer
	zw, err := gzip.NewWriterLevel(&cl, gzip.BestCompression) // as dh_compress's gzip -9n: no name, no time
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(zw, "%s (%s) unstable; urgency=medium\n\n  * Signing template for %s, written by mksigned template build.\n\n -- %s  %s\n",
		u.Source, u.SourceVersion, s.Source, s.Maintainer, date.UTC().Format(time.RFC1123Z))
	if err := zw.Close(); err != nil {
		return nil, err
	}
	doc := "usr/share/doc/" + pkg + "/"
	tree = append(tree,
		pkggen.Entry{Name: doc + "changelog.Debian.gz", Mode: 0o644, ModTime: date, Data: cl.Bytes()},
		pkggen.Entry{Name: doc + "copyright", Mode: 0o644, ModTime: date, Data: files["source-template/debian/copyright"]},
	)
	return tree, nil
}

// templateControl is the template package's control file; field order
// dpkg-gencontrol's, as in fwupd-amd64-signed-template.
func (s *Spec) templateControl(pkg string, u *deb.Package, installedSize int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Package: %s\n", pkg)
	if u.SourceVersion != u.Version {
		fmt.Fprintf(&b, "Source: %s (%s)\n", u.Source, u.SourceVersion)
	} else {
		fmt.Fprintf(&b, "Source: %s\n", u.Source)
	}
	// Depends: source-template/debian/rules is a make script (lintian's
	// missing-dep-for-interpreter, as in fwupd-amd64-signed-template).
	fmt.Fprintf(&b, "Version: %s\nArchitecture: %s\nMaintainer: %s\nInstalled-Size: %d\nDepends: make | build-essential | dpkg-dev\nSection: %s\n",
		u.Version, u.Architecture, s.Maintainer, installedSize, s.Section)
	if s.Priority != "" {
		fmt.Fprintf(&b, "Priority: %s\n", s.Priority)
	}
	if s.Homepage != "" {
		fmt.Fprintf(&b, "Homepage: %s\n", s.Homepage)
	}
	fmt.Fprintf(&b, "Description: signing template for %s\n This package holds the template from which a code signing service\n builds the signed source package %s.\n",
		s.Source, s.Source)
	return b.String()
}
