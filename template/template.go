// Package template reads Debian code-signing templates: the
// /usr/share/code-signing/<name>/ directory that a *-signed-template
// package ships, holding files.json (what to sign) and source-template/
// (the debian/ directory of the -signed source package).
//
// The format is Debian's, unchanged; see docs/formats.md §4 and
// https://wiki.debian.org/SecureBoot/Discussion for its history.
package template

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"

	"github.com/mksigned/mksigned/internal/deb822"
	"github.com/mksigned/mksigned/internal/debchangelog"
	"github.com/mksigned/mksigned/internal/debname"
	"github.com/mksigned/mksigned/internal/inputerr"
)

// Entry is one file, directory or symbolic link of a template, held in
// memory.
type Entry struct {
	Name string // slash path relative to the code-signing directory
	// Mode is the type (0 for a regular file, fs.ModeDir or
	// fs.ModeSymlink) and the permission bits, with fs.ModeSetuid,
	// fs.ModeSetgid and fs.ModeSticky.
	Mode    fs.FileMode
	ModTime time.Time
	// Data is a regular file's content, or a symbolic link's target.
	Data []byte
}

// Template is a checked signing template.
type Template struct {
	// Name is the code-signing directory's name, normally the template
	// package's name ("fwupd-amd64-signed-template").
	Name     string
	Manifest *Manifest
	// Source holds source-template/'s entries with the "source-template/"
	// prefix removed ("debian/rules"), sorted by Name; source-template/
	// itself is ".", when the template has an entry for it.
	Source []Entry

	// From debian/changelog's top entry.
	SourceName string
	Version    version.Version
	Date       time.Time

	// BuildDepends joins Build-Depends, -Arch and -Indep of debian/control.
	BuildDepends dependency.Dependency

	// How errors name the template (SourceError): the file (a directory
	// or a package), and in a package the code-signing directory's path.
	origin, root string
}

// SignaturePath is where the detached signature for file of package pkg
// lives in the source package.
func SignaturePath(pkg, file string) string {
	return "debian/signatures/" + pkg + "/" + file + ".sig"
}

// maxDependsField bounds each Build-Depends field, as pkggen does (the
// kernel template's largest is 479 bytes).
const maxDependsField = 16 << 10

// requiredFiles must be in every source-template (as debusine requires;
// docs/formats.md §4.4).
var requiredFiles = []string{"debian/changelog", "debian/control", "debian/copyright", "debian/rules"}

// forbiddenFiles would change how dpkg-source builds the package.
var forbiddenFiles = []string{"debian/source/options", "debian/source/local-options"}

// Parse checks a template held in memory. entries are relative to the
// code-signing directory: "files.json" and "source-template/...". name is
// the directory's name. Errors are *inputerr.Error naming the file.
func Parse(name string, entries []Entry) (*Template, error) {
	t := &Template{Name: name}
	byName := map[string]*Entry{}
	for i := range entries {
		e := &entries[i]
		clean, err := CleanPath(e.Name)
		if err != nil {
			return nil, &inputerr.Error{Path: e.Name, Offset: inputerr.NoOffset, Err: err}
		}
		switch e.Mode.Type() {
		case 0:
			// Load checked this before reading; Parse's other callers
			// hold the data already, but not the memory parsing takes.
			if err := checkEntrySize(clean, int64(len(e.Data))); err != nil {
				return nil, &inputerr.Error{Path: clean, Offset: inputerr.NoOffset, Err: err}
			}
		case fs.ModeDir:
		case fs.ModeSymlink:
			// Only the package's own tree may hold links: files.json
			// and source-template/ itself are read, not shipped.
			if !strings.HasPrefix(clean, "source-template/") {
				return nil, &inputerr.Error{Path: clean, Offset: inputerr.NoOffset,
					Err: fmt.Errorf("is a symbolic link to %q: only entries inside source-template/ may be links", e.Data)}
			}
		default:
			return nil, &inputerr.Error{Path: clean, Offset: inputerr.NoOffset,
				Err: fmt.Errorf("is a %v, but a template may hold only regular files, directories and symbolic links", e.Mode.Type())}
		}
		if _, dup := byName[clean]; dup {
			return nil, &inputerr.Error{Path: clean, Offset: inputerr.NoOffset, Err: errors.New("appears twice")}
		}
		byName[clean] = e
		if rest, ok := strings.CutPrefix(clean, "source-template/"); ok {
			c := *e
			c.Name = rest
			t.Source = append(t.Source, c)
		} else if clean == "source-template" && e.Mode.IsDir() {
			// The tree's root, kept for its mtime.
			c := *e
			c.Name = "."
			t.Source = append(t.Source, c)
		}
	}
	fj, ok := byName["files.json"]
	if !ok || fj.Mode.IsDir() {
		return nil, inputerr.Errorf("template %s has no files.json", name)
	}
	m, err := ParseManifest(fj.Data)
	if err != nil {
		return nil, withPath(err, "files.json")
	}
	t.Manifest = m
	if st, ok := byName["source-template"]; !ok && len(t.Source) == 0 || ok && !st.Mode.IsDir() {
		return nil, inputerr.Errorf("template %s has no source-template/ directory", name)
	}
	sort.Slice(t.Source, func(i, j int) bool { return t.Source[i].Name < t.Source[j].Name })
	if err := t.checkSource(); err != nil {
		return nil, err
	}
	if err := t.checkLinks(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Template) file(name string) *Entry {
	i := sort.Search(len(t.Source), func(i int) bool { return t.Source[i].Name >= name })
	if i < len(t.Source) && t.Source[i].Name == name {
		return &t.Source[i]
	}
	return nil
}

// withPath names the template file an error is about.
func withPath(err error, p string) error {
	if ie, ok := err.(*inputerr.Error); ok && ie.Path == "" {
		c := *ie
		c.Path = p
		return &c
	}
	return &inputerr.Error{Path: p, Offset: inputerr.NoOffset, Err: err}
}

// kind describes what e is, for messages.
func kind(e *Entry) string {
	switch e.Mode.Type() {
	case 0:
		return "a regular file"
	case fs.ModeDir:
		return "a directory"
	case fs.ModeSymlink:
		return fmt.Sprintf("a symbolic link to %q", e.Data)
	}
	return fmt.Sprintf("a %v", e.Mode.Type())
}

func srcErr(file, field string, err error) error {
	return &inputerr.Error{Path: "source-template/" + file, Field: field, Offset: inputerr.NoOffset, Err: err}
}

// checkSource enforces what Debian's signing service (as debusine
// documents it) requires of source-template/, and reads the changelog and
// control fields later steps need.
func (t *Template) checkSource() error {
	for _, f := range requiredFiles {
		e := t.file(f)
		if e == nil {
			for d := path.Dir(f); d != "."; d = path.Dir(d) {
				if l := t.file(d); l != nil && l.Mode.Type() == fs.ModeSymlink {
					return srcErr(f, "", fmt.Errorf("missing: %s is a symbolic link to %q, and a source template's debian/ files must be in it, not behind links", d, l.Data))
				}
			}
		}
		if e == nil || e.Mode.IsDir() {
			return srcErr(f, "", errors.New("missing: a source template needs debian/changelog, control, copyright and rules"))
		}
		if !e.Mode.IsRegular() {
			return srcErr(f, "", fmt.Errorf("is %s, but must be a regular file", kind(e)))
		}
	}
	for _, f := range forbiddenFiles {
		if t.file(f) != nil {
			return srcErr(f, "", errors.New("not allowed: it would change how the signed source package is built"))
		}
	}
	format := t.file("debian/source/format")
	if format == nil {
		return srcErr("debian/source/format", "", errors.New("missing: the source template must be \"3.0 (native)\""))
	}
	if !format.Mode.IsRegular() {
		return srcErr("debian/source/format", "", fmt.Errorf("is %s, but must be a regular file saying \"3.0 (native)\"", kind(format)))
	}
	if got := strings.TrimSpace(string(format.Data)); got != "3.0 (native)" {
		return srcErr("debian/source/format", "", fmt.Errorf("is %s, but the source template must be \"3.0 (native)\"", inputerr.Value(got)))
	}
	for _, e := range t.Source {
		if strings.HasPrefix(e.Name, "debian/signatures/") || e.Name == "debian/signatures" {
			if e.Mode.Type() == fs.ModeSymlink {
				return srcErr(e.Name, "", fmt.Errorf("is a symbolic link to %q: debian/signatures/ is written by the signer, and building the package would write through the link", e.Data))
			}
			return srcErr(e.Name, "", errors.New("already present: debian/signatures/ is written by the signer"))
		}
	}

	cl, err := debchangelog.ParseTop(t.file("debian/changelog").Data)
	if err != nil {
		return srcErr("debian/changelog", "top entry", err)
	}
	t.SourceName, t.Version, t.Date = cl.Source, cl.Version, cl.When
	if !debname.ValidPackage(t.SourceName) {
		return srcErr("debian/changelog", "source", fmt.Errorf("%s is not a valid source package name", inputerr.Value(t.SourceName)))
	}
	if !t.Version.IsNative() {
		return srcErr("debian/changelog", "version", fmt.Errorf("%s has a Debian revision, but a 3.0 (native) package needs a native version", t.Version))
	}

	// Only the source paragraph's fields are used; every paragraph is
	// read, so that a malformed one is refused here.
	paras, err := deb822.All(t.file("debian/control").Data)
	if errors.Is(err, io.EOF) {
		err = nil // no paragraph: said below
	}
	if err != nil {
		return srcErr("debian/control", "", inputerr.Tame(err))
	}
	if len(paras) == 0 {
		return srcErr("debian/control", "", errors.New("empty: it needs a source paragraph (Source, Build-Depends, ...) and one per binary package"))
	}
	source := paras[0].Values
	// Field names are case-insensitive, as dpkg reads them: a template
	// that writes "build-depends:" still pins its unsigned packages.
	seen := map[string]string{}
	for k := range source {
		if prev, dup := seen[strings.ToLower(k)]; dup {
			return srcErr("debian/control", k, fmt.Errorf("given twice, as %s and %s (dpkg reads field names without regard to case)", prev, k))
		}
		seen[strings.ToLower(k)] = k
	}
	field := func(name string) string { return source[seen[strings.ToLower(name)]] }
	if src := strings.TrimSpace(field("Source")); src != t.SourceName {
		return srcErr("debian/control", "Source", fmt.Errorf("is %s but debian/changelog says %s", inputerr.Value(src), inputerr.Value(t.SourceName)))
	}
	for _, name := range []string{"Build-Depends", "Build-Depends-Arch", "Build-Depends-Indep"} {
		v := strings.TrimSpace(field(name))
		if v == "" {
			continue
		}
		// pault's parser builds each name and version a byte at a time,
		// in time quadratic in its length: the field is bounded first.
		if len(v) > maxDependsField {
			return srcErr("debian/control", name, fmt.Errorf("is %d bytes, more than the %d a signing template's may have", len(v), maxDependsField))
		}
		d, err := dependency.Parse(strings.Join(strings.Fields(v), " "))
		if err != nil {
			return srcErr("debian/control", name, inputerr.Tame(err))
		}
		t.BuildDepends.Relations = append(t.BuildDepends.Relations, d.Relations...)
	}
	return nil
}

// Files returns, for each package, the full paths inside the source tree
// where its signatures go, in manifest order.
func (t *Template) SignatureFiles() []string {
	var out []string
	for _, p := range t.Manifest.Packages {
		for _, f := range p.Files {
			out = append(out, SignaturePath(p.Name, f.Path))
		}
	}
	return out
}
