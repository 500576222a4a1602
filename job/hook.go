package job

// What `mksigned hook` signs: the build dpkg-buildpackage (or sbuild) has
// just finished, found from its .changes.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mksigned/mksigned/internal/deb822"
	"github.com/mksigned/mksigned/internal/debchangelog"
	"github.com/mksigned/mksigned/internal/debname"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/inputfile"
	"github.com/mksigned/mksigned/template"
)

// maxChanges bounds a .changes file; the linux kernel's, listing about 200
// packages, is under 100 KB.
const maxChanges = 4 << 20

// SpecInTree is where a source tree keeps its signing.yaml.
const SpecInTree = "debian/signing.yaml"

// templateSuffix ends the name of a template package.
const templateSuffix = "-signed-template"

// BuildOptions say where a finished build is.
type BuildOptions struct {
	// SourceDir is the unpacked source tree the build ran in (dpkg-buildpackage
	// runs its hooks there); "" means the current directory.
	SourceDir string
	// Source and Version are the source package's name and version (with
	// its epoch, as dpkg-buildpackage's %p and %v give them); "" means
	// SourceDir's debian/changelog's top entry.
	Source, Version string
	// Changes is the build's .changes; "" means the newest
	// <Source>_<Version without epoch>_<arch>.changes (or a binNMU's
	// <Version>+bN) in SourceDir's parent, where dpkg-buildpackage writes it.
	Changes string
	// Template, when set, is used instead of finding one.
	Template string
}

// Build is a finished build: its .changes, the template to sign with and
// the unsigned packages that template lists, from the .changes.
type Build struct {
	Changes  string
	Template string
	Unsigned []string
}

// FindBuild finds what the hook signs: the .changes, the template (the one
// *-signed-template .deb the .changes lists, else debian/signing.yaml in
// the source tree) and, from the .changes, the .deb of each package the
// template signs files of.
func FindBuild(ctx context.Context, o BuildOptions) (*Build, error) {
	if o.SourceDir == "" {
		o.SourceDir = "."
	}
	b := &Build{Changes: o.Changes}
	if b.Changes == "" {
		if o.Source == "" {
			var err error
			if o.Source, o.Version, err = treeVersion(ctx, o.SourceDir); err != nil {
				return nil, err
			}
		}
		var err error
		if b.Changes, err = findChanges(filepath.Dir(absDir(o.SourceDir)), o.Source, o.Version); err != nil {
			return nil, err
		}
	}
	debs, err := changesDebs(ctx, b.Changes, o.Source)
	if err != nil {
		return nil, err
	}
	b.Template = o.Template
	if b.Template == "" {
		var templates []string
		for name, p := range debs {
			if strings.HasSuffix(name, templateSuffix) {
				templates = append(templates, p)
			}
		}
		sort.Strings(templates)
		switch len(templates) {
		case 0:
			spec := filepath.Join(o.SourceDir, SpecInTree)
			if _, err := os.Lstat(spec); err != nil {
				return nil, fmt.Errorf("%s lists no *%s package, and the source tree %s has no %s: nothing says what to sign",
					inputerr.Name(b.Changes), templateSuffix, inputerr.Name(o.SourceDir), SpecInTree)
			}
			b.Template = spec
		case 1:
			b.Template = templates[0]
		default:
			return nil, fmt.Errorf("%s lists %d *%s packages (%s): name the one to use with --template",
				inputerr.Name(b.Changes), len(templates), templateSuffix, strings.Join(templates, ", "))
		}
	}
	names, err := signedPackages(ctx, b.Template)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		p, ok := debs[n]
		if !ok {
			return nil, fmt.Errorf("template %s signs files of package %s, but %s lists no .deb of it",
				inputerr.Name(b.Template), n, inputerr.Name(b.Changes))
		}
		b.Unsigned = append(b.Unsigned, p)
	}
	return b, nil
}

func absDir(dir string) string {
	if a, err := filepath.Abs(dir); err == nil {
		return a
	}
	return dir
}

// treeVersion reads the source package's name and version from dir's
// debian/changelog.
func treeVersion(ctx context.Context, dir string) (string, string, error) {
	name := filepath.Join(dir, "debian/changelog")
	data, err := inputfile.ReadFileLimit(ctx, name, 64<<20, "debian/changelog")
	if err != nil {
		return "", "", fmt.Errorf("no source package given, and %w", err)
	}
	top, err := debchangelog.ParseTop(data)
	if err != nil {
		return "", "", inputerr.WithFile(err, name)
	}
	return top.Source, top.Version.String(), nil
}

// findChanges returns the newest <source>_<version>_<arch>.changes in
// dir, version without its epoch or with a binNMU's +bN after it, but not
// a _source.changes.
func findChanges(dir, source, version string) (string, error) {
	if !debname.ValidPackage(source) {
		return "", fmt.Errorf("source package %s: not a valid package name", inputerr.Value(source))
	}
	if _, v, ok := strings.Cut(version, ":"); ok {
		version = v
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("looking for the build's .changes: %w", err)
	}
	var best string
	var bestInfo fs.FileInfo
	for _, e := range ents {
		n := e.Name()
		rest, ok := strings.CutPrefix(n, source+"_")
		if !ok || !strings.HasSuffix(n, ".changes") || strings.HasSuffix(n, "_source.changes") {
			continue
		}
		v, arch, ok := strings.Cut(strings.TrimSuffix(rest, ".changes"), "_")
		if !ok || arch == "" || strings.Contains(arch, "_") {
			continue
		}
		if v != version && !isBinNMU(v, version) {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		if bestInfo == nil || info.ModTime().After(bestInfo.ModTime()) {
			best, bestInfo = filepath.Join(dir, n), info
		}
	}
	if best == "" {
		return "", fmt.Errorf("no %s_%s_<arch>.changes in %s: has the build finished (run the hook as dpkg-buildpackage's --hook-done), or give --changes",
			source, version, inputerr.Name(dir))
	}
	return best, nil
}

// isBinNMU says whether v is version with a binNMU's +bN.
func isBinNMU(v, version string) bool {
	n, ok := strings.CutPrefix(v, version+"+b")
	if !ok || n == "" {
		return false
	}
	return strings.Trim(n, "0123456789") == ""
}

// changesDebs returns the .deb files a .changes lists, by package name
// (the file name up to its first "_"), each beside the .changes. source,
// when set, must be the .changes' Source.
func changesDebs(ctx context.Context, changes, source string) (map[string]string, error) {
	data, err := inputfile.ReadFileLimit(ctx, changes, maxChanges, ".changes")
	if err != nil {
		return nil, err
	}
	if data, err = clearSigned(data); err != nil {
		return nil, &inputerr.Error{File: changes, Offset: inputerr.NoOffset, Err: err}
	}
	paras, err := deb822.All(data)
	if err != nil {
		return nil, inputerr.WithFile(err, changes)
	}
	if len(paras) != 1 {
		return nil, &inputerr.Error{File: changes, Offset: inputerr.NoOffset, Err: fmt.Errorf("holds %d paragraphs, want 1", len(paras))}
	}
	p := paras[0]
	src, _, _ := strings.Cut(strings.TrimSpace(p.Values["Source"]), " ")
	if source != "" && src != source {
		return nil, &inputerr.Error{File: changes, Field: "Source", Offset: inputerr.NoOffset, Err: fmt.Errorf("is %s, but the build is of %s", inputerr.Value(src), source)}
	}
	debs := map[string]string{}
	dir := filepath.Dir(changes)
	for _, line := range strings.Split(p.Values["Files"], "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 5 {
			return nil, &inputerr.Error{File: changes, Field: "Files", Offset: inputerr.NoOffset, Err: fmt.Errorf("line %s: want md5sum, size, section, priority and file name", inputerr.Value(line))}
		}
		name := f[4]
		if !strings.HasSuffix(name, ".deb") {
			continue
		}
		if strings.ContainsRune(name, '/') || !filepath.IsLocal(name) {
			return nil, &inputerr.Error{File: changes, Field: "Files", Offset: inputerr.NoOffset, Err: fmt.Errorf("file %s is not a name in the .changes' directory", inputerr.Value(name))}
		}
		pkg, _, _ := strings.Cut(name, "_")
		if prev, dup := debs[pkg]; dup {
			return nil, &inputerr.Error{File: changes, Field: "Files", Offset: inputerr.NoOffset, Err: fmt.Errorf("lists package %s twice (%s and %s)", pkg, filepath.Base(prev), name)}
		}
		debs[pkg] = filepath.Join(dir, name)
	}
	return debs, nil
}

// Clear-signed message armor (RFC 4880 section 7).
const (
	pgpSigned    = "-----BEGIN PGP SIGNED MESSAGE-----\n"
	pgpSignature = "\n-----BEGIN PGP SIGNATURE-----\n"
)

// clearSigned returns the text of data, a .changes that dpkg-buildpackage
// may have signed before its done hook runs (without -uc): the clear-signed
// message's text, dash-escaping undone, signature unchecked (the hook
// only takes file names from it; generate checks every package it reads).
// Unsigned data is returned as it is.
func clearSigned(data []byte) ([]byte, error) {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	rest, ok := strings.CutPrefix(s, pgpSigned)
	if !ok {
		return data, nil
	}
	_, body, ok := strings.Cut(rest, "\n\n") // after the Hash: headers
	if ok {
		body, _, ok = strings.Cut(body, pgpSignature)
	}
	if !ok {
		return nil, errors.New("is not a well-formed OpenPGP clear-signed message")
	}
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "- ")
	}
	return []byte(strings.Join(lines, "\n") + "\n"), nil
}

// signedPackages returns the names of the packages the template t signs
// files of.
func signedPackages(ctx context.Context, t string) ([]string, error) {
	var names []string
	if IsSpecFile(t) {
		data, err := ReadSpecFile(t)
		if err != nil {
			return nil, err
		}
		spec, err := template.ParseYAML(t, data)
		if err != nil {
			return nil, err
		}
		for _, p := range spec.Packages {
			names = append(names, p.Name)
		}
		return names, nil
	}
	tm, err := template.LoadContext(ctx, t)
	if err != nil {
		return nil, err
	}
	for _, p := range tm.Manifest.Packages {
		names = append(names, p.Name)
	}
	return names, nil
}
