package job

// Building a code-signing template from signing.yaml, shared by
// `template build` (which writes it), `generate --template signing.yaml`
// and `hook` (which use it in memory).

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/inputfile"
	"github.com/mksigned/mksigned/pkggen"
	"github.com/mksigned/mksigned/template"
)

// maxSpecFile is how much of signing.yaml is read; ParseYAML refuses
// more than its own limit, which is below this.
const maxSpecFile = 2 << 20

// IsSpecFile says whether a --template names signing.yaml rather than a
// template package or a code-signing directory: by its name, which ends
// in .yaml or .yml. (A .deb is recognised by nothing else: a damaged one
// is reported as a damaged package, not as bad YAML.)
func IsSpecFile(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

// ReadSpecFile reads signing.yaml, refusing anything but a regular file.
func ReadSpecFile(name string) ([]byte, error) {
	f, err := inputfile.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxSpecFile))
}

// BuiltSpec is a code-signing template built from signing.yaml.
type BuiltSpec struct {
	Spec     *template.Spec
	Unsigned map[string]*deb.Package // the unsigned packages' control data, by name
	Date     time.Time               // the changelog's date
	Files    map[string][]byte       // the code-signing directory, as Spec.BuildDir makes it
}

// BuildSpec parses signing.yaml (data, named specName in errors), checks
// each unsigned package in debs against it (named in it, and holding
// every file it lists for it, a regular file of the kind its sig-type
// signs), and builds the code-signing directory's files. The changelog's
// date is sourceDateEpoch ($SOURCE_DATE_EPOCH), else the newest
// modification time in the packages' data.
func BuildSpec(ctx context.Context, specName string, data []byte, debs []string, sourceDateEpoch string) (*BuiltSpec, error) {
	spec, err := template.ParseYAML(specName, data)
	if err != nil {
		return nil, err
	}
	pkgs, newest, err := checkSpecPackages(ctx, specName, spec, debs)
	if err != nil {
		return nil, err
	}
	date, err := pkggen.Epoch(&pkggen.Source{Date: newest}, sourceDateEpoch)
	if err != nil {
		return nil, err
	}
	files, err := spec.BuildDir(pkgs, date)
	if err != nil {
		return nil, err
	}
	return &BuiltSpec{Spec: spec, Unsigned: pkgs, Date: date, Files: files}, nil
}

// LoadSpec is BuildSpec of the file specName, giving the template as
// template.LoadDir would read it once written with atomicfile.WriteDir
// (the same files, modes and, as dpkg-source clamps them, times): the
// source package made from it is byte for byte the one made from the
// directory. Its Name is <signed source>-template, as the template
// package would be called; errors name specName.
func LoadSpec(ctx context.Context, specName string, debs []string, sourceDateEpoch string) (*template.Template, error) {
	data, err := ReadSpecFile(specName)
	if err != nil {
		return nil, err
	}
	b, err := BuildSpec(ctx, specName, data, debs, sourceDateEpoch)
	if err != nil {
		return nil, err
	}
	t, err := template.FromFiles(specName, b.Files, b.Date)
	if err != nil {
		return nil, inputerr.WithFile(err, specName)
	}
	// Named as a template package for it would be (a request names it).
	t.Name = t.SourceName + "-template"
	return t, nil
}

// loadTemplate loads opts.Template: signing.yaml (IsSpecFile, and not a
// directory), built in memory against opts.Unsigned, else a template
// package or code-signing directory.
func loadTemplate(ctx context.Context, opts GenerateOptions) (*template.Template, error) {
	if IsSpecFile(opts.Template) {
		if fi, err := os.Stat(opts.Template); err == nil && !fi.IsDir() {
			return LoadSpec(ctx, opts.Template, opts.Unsigned, opts.SourceDateEpoch)
		}
	}
	return template.LoadContext(ctx, opts.Template)
}

// checkSpecPackages reads each unsigned package whole, checks that it is
// named in spec, and that every file spec lists for it is a regular file
// of the kind its sig-type signs. It returns the packages' control data by
// name and the newest modification time in their data.
func checkSpecPackages(ctx context.Context, specName string, spec *template.Spec, debs []string) (map[string]*deb.Package, time.Time, error) {
	want := map[string]*template.SpecPackage{}
	for i := range spec.Packages {
		want[spec.Packages[i].Name] = &spec.Packages[i]
	}
	got := map[string]*deb.Package{}
	var newest time.Time
	for _, path := range debs {
		ctl, err := deb.ReadControlContext(ctx, path)
		if err != nil {
			return nil, time.Time{}, err
		}
		sp := want[ctl.Name]
		if sp == nil {
			return nil, time.Time{}, fmt.Errorf("%s: package %s is not named in %s", inputerr.Name(path), ctl.Name, inputerr.Name(specName))
		}
		if got[ctl.Name] != nil {
			return nil, time.Time{}, fmt.Errorf("%s: package %s is given twice", inputerr.Name(path), ctl.Name)
		}
		files := map[string]template.SpecFile{}
		for _, f := range sp.Files {
			files[f.Path] = f
		}
		seen := map[string]bool{}
		f, err := os.Open(path)
		if err != nil {
			return nil, time.Time{}, err
		}
		pkg, err := deb.ReadContext(ctx, f, path, func(_ *deb.Package, e *deb.Entry, body io.Reader) error {
			if e.ModTime.After(newest) {
				newest = e.ModTime
			}
			sf, ok := files[e.Path]
			if !ok {
				if err := sp.CheckKept(e.Path, e.Type == tar.TypeDir); err != nil {
					return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset, Err: err}
				}
				return nil
			}
			seen[e.Path] = true
			if e.Type != tar.TypeReg {
				return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset,
					Err: fmt.Errorf("is not a regular file, but %s line %d signs it", inputerr.Name(specName), sf.Line)}
			}
			head := make([]byte, min(e.Size, HeadSize))
			if _, err := io.ReadFull(body, head); err != nil {
				return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset, Err: err}
			}
			if err := CheckHead(sf.SigType, head, e.Size); err != nil {
				return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset,
					Err: fmt.Errorf("signed as %s on %s line %d, but %w", sf.SigType, inputerr.Name(specName), sf.Line, err)}
			}
			return nil
		})
		f.Close()
		if err != nil {
			return nil, time.Time{}, inputerr.WithFile(err, path)
		}
		for _, sf := range sp.Files {
			if !seen[sf.Path] {
				return nil, time.Time{}, &inputerr.Error{File: path, Offset: inputerr.NoOffset,
					Err: fmt.Errorf("holds no %s, which %s line %d signs", inputerr.Name(sf.Path), inputerr.Name(specName), sf.Line)}
			}
		}
		got[pkg.Name] = pkg
	}
	for _, sp := range spec.Packages {
		if got[sp.Name] == nil {
			return nil, time.Time{}, fmt.Errorf("%s names %s (line %d), but no --unsigned package is it", inputerr.Name(specName), sp.Name, sp.Line)
		}
	}
	if newest.IsZero() {
		return nil, time.Time{}, errors.New("the unsigned packages' data hold no modification time to date the changelog; set SOURCE_DATE_EPOCH")
	}
	return got, newest, nil
}
