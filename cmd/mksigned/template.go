package main

import (
	"archive/tar"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/atomicfile"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/job"
	"github.com/mksigned/mksigned/pkggen"
	"github.com/mksigned/mksigned/template"
)

// runTemplate is `mksigned template SUBCOMMAND`.
func runTemplate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("a subcommand is required: mksigned template init|build")
	}
	switch args[0] {
	case "build":
		return runTemplateBuild(ctx, args[1:], stdout)
	case "init":
		return runTemplateInit(ctx, args[1:], stdout)
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, "Usage:\n  mksigned template init (--unsigned DEB)... [--output FILE]\n"+
			"  mksigned template build signing.yaml (--unsigned DEB)... (--output DIR | --deb DEBDIR)\n\n"+
			"Run 'mksigned template init -h' or 'mksigned template build -h' for their flags.\n")
		return flag.ErrHelp
	}
	return usagef("unknown subcommand %q (known: init, build)", args[0])
}

func runTemplateBuild(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("template build",
		"signing.yaml (--unsigned DEB)... (--output DIR | --deb DEBDIR)",
		`Write a Debian code-signing template (DIR/files.json and
DIR/source-template/) from signing.yaml, for mksigned generate --template DIR
or Debian's signing service. Each --unsigned package must hold the files
signing.yaml lists, of the kind their sig-type signs; the template pins
Build-Depends to its exact version. DIR must not exist.

--deb DEBDIR also (or, without --output, only) writes the template as the
binary package <source>-template, the form Debian's signing service takes:
DEBDIR/<source>-template_<version>_<arch>.deb, with the unsigned packages'
version and architecture, installing the template under
/usr/share/code-signing/<source>-template/. DEBDIR must exist and the .deb
must not. mksigned generate --template takes it.

The changelog's date is SOURCE_DATE_EPOCH, else the newest modification
time in the unsigned packages' data, and the .deb's files are dated the
same: the same inputs give the same bytes.
`, stdout)
	var unsigned multiFlag
	var out, debDir string
	fs.Var(&unsigned, "unsigned", "unsigned package `DEB` named in signing.yaml (repeat for each)")
	fs.StringVar(&out, "output", "", "code-signing directory `DIR` to make")
	fs.StringVar(&debDir, "deb", "", "existing directory `DEBDIR` to write the <source>-template .deb into")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 1:
		return usagef("want one signing.yaml, got %d arguments", len(pos))
	case len(unsigned) == 0:
		return usagef("--unsigned is required, once for each package signing.yaml names")
	case out == "" && debDir == "":
		return usagef("--output or --deb is required")
	}
	if err := deb.CheckDecompressEnv(); err != nil {
		return err
	}
	data, err := readSpecFile(pos[0])
	if err != nil {
		return err
	}
	spec, err := template.ParseYAML(pos[0], data)
	if err != nil {
		return err
	}
	pkgs, newest, err := checkUnsigned(ctx, pos[0], spec, unsigned)
	if err != nil {
		return err
	}
	date, err := pkggen.Epoch(&pkggen.Source{Date: newest}, os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return err
	}
	files, err := spec.BuildDir(pkgs, date)
	if err != nil {
		return err
	}
	var debPath string
	var debData []byte
	if debDir != "" {
		var name string
		if name, debData, err = spec.BuildDeb(files, pkgs, date); err != nil {
			return err
		}
		debPath = filepath.Join(debDir, name)
	}
	if err := ctx.Err(); err != nil {
		return err // interrupted: write nothing
	}
	if out != "" {
		if _, err := os.Lstat(out); err == nil {
			return fmt.Errorf("%s exists: give the name of a directory to make", inputerr.Name(out))
		}
	}
	if debPath != "" {
		if err := atomicfile.WriteExcl(debPath, debData, 0o644); err != nil {
			return err
		}
	}
	if out != "" {
		if err := atomicfile.WriteDir(out, files); err != nil {
			if debPath != "" {
				os.Remove(debPath) // nothing written on error
			}
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", inputerr.Name(out))
	}
	if debPath != "" {
		fmt.Fprintf(stdout, "wrote %s\n", inputerr.Name(debPath))
	}
	return nil
}

// maxSpecFile is how much of signing.yaml is read; ParseYAML refuses
// more than its own limit, which is below this.
const maxSpecFile = 2 << 20

func readSpecFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxSpecFile))
}

// checkUnsigned reads each unsigned package whole, checks that it is
// named in spec, and that every file spec lists for it is a regular file
// of the kind its sig-type signs. It returns the packages' control data by
// name and the newest modification time in their data.
func checkUnsigned(ctx context.Context, specName string, spec *template.Spec, debs []string) (map[string]*deb.Package, time.Time, error) {
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
				return nil
			}
			seen[e.Path] = true
			if e.Type != tar.TypeReg {
				return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset,
					Err: fmt.Errorf("is not a regular file, but %s line %d signs it", inputerr.Name(specName), sf.Line)}
			}
			head := make([]byte, min(e.Size, job.HeadSize))
			if _, err := io.ReadFull(body, head); err != nil {
				return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset, Err: err}
			}
			if err := job.CheckHead(sf.SigType, head, e.Size); err != nil {
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
