package main

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"strings"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/atomicfile"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/inputfile"
	"github.com/mksigned/mksigned/job"
	"github.com/mksigned/mksigned/template"
)

// maxCopyrightFile bounds the copyright file template init reads to fill
// copyright and license; a longer one gets placeholders.
const maxCopyrightFile = 1 << 20

// compressedModule lists the suffixes of compressed kernel modules
// (kmod's .ko.gz, .ko.xz, .ko.zst).
var compressedModule = []string{".ko.gz", ".ko.xz", ".ko.zst"}

func runTemplateInit(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("template init", "(--unsigned DEB)... [--output FILE]",
		`Propose a signing.yaml for the unsigned packages, on standard output or
in FILE, which must not exist. Every PE/COFF image in them is proposed as
sig-type efi, every ELF relocatable .ko module as linux-module, installed
beside the original (<file>.signed). Compressed modules (.ko.gz, .ko.xz,
.ko.zst) are not proposed but listed in a comment: the signature covers
the uncompressed module, so its compressed bytes must never be signed.

The source is named as Debian names signed sources (fwupd-unsigned on
amd64: fwupd-amd64-signed); maintainer, section, priority and homepage
are the first package's, and copyright and license come from its
machine-readable copyright file. template build takes the proposal as it
is; check the lines marked TODO first. A package with nothing to sign is
an error, and nothing is written.
`, stdout)
	var unsigned multiFlag
	var out string
	fs.Var(&unsigned, "unsigned", "unsigned package `DEB` to scan (repeat for each)")
	fs.StringVar(&out, "output", "", "new `FILE` to write signing.yaml to (default: standard output)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 0:
		return usagef("want no arguments, got %q: name the packages with --unsigned", pos)
	case len(unsigned) == 0:
		return usagef("--unsigned is required, once for each package")
	}
	if err := deb.CheckDecompressEnv(); err != nil {
		return err
	}
	if out != "" {
		if _, err := os.Lstat(out); err == nil {
			return fmt.Errorf("--output %s exists: give the name of a new file", inputerr.Name(out))
		}
	}
	var found []template.Found
	seen := map[string]string{}
	for _, path := range unsigned {
		f, err := scanUnsigned(ctx, path)
		if err != nil {
			return err
		}
		if other, dup := seen[f.Pkg.Name]; dup {
			return fmt.Errorf("%s: package %s is given twice (also %s)", inputerr.Name(path), f.Pkg.Name, inputerr.Name(other))
		}
		seen[f.Pkg.Name] = path
		found = append(found, *f)
	}
	yaml, err := template.Propose(found)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // interrupted: write nothing
	}
	if out == "" {
		_, err := stdout.Write(yaml)
		return err
	}
	if err := atomicfile.WriteExcl(out, yaml, 0o666); err != nil {
		if errors.Is(err, iofs.ErrExist) {
			return fmt.Errorf("--output %s exists: give the name of a new file", inputerr.Name(out))
		}
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", inputerr.Name(out))
	return nil
}

// scanUnsigned reads the package at path once, as a stream, and returns
// what it holds to sign: each regular file whose head CheckHead takes as
// efi, and each .ko whose head it takes as linux-module.
func scanUnsigned(ctx context.Context, path string) (*template.Found, error) {
	f, err := inputfile.Open(path) // a FIFO would block open(2), past SIGTERM
	if err != nil {
		return nil, err
	}
	defer f.Close()
	found := &template.Found{}
	pkg, err := deb.ReadContext(ctx, f, path, func(pkg *deb.Package, e *deb.Entry, body io.Reader) error {
		if e.Type != tar.TypeReg {
			return nil
		}
		if e.Path == "usr/share/doc/"+pkg.Name+"/copyright" && e.Size <= maxCopyrightFile {
			b, err := io.ReadAll(body)
			if err != nil {
				return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset, Err: err}
			}
			found.Copyright = b
			return nil
		}
		for _, suf := range compressedModule {
			if strings.HasSuffix(e.Path, suf) {
				found.Skipped = append(found.Skipped, template.Skipped{Path: e.Path,
					Reason: "a compressed module: the signature covers the uncompressed module, so sign it before it is compressed (or ship it uncompressed)"})
				return nil
			}
		}
		head := make([]byte, min(e.Size, job.HeadSize))
		if _, err := io.ReadFull(body, head); err != nil {
			return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset, Err: err}
		}
		if job.CheckHead(template.EFI, head, e.Size) == nil {
			found.Files = append(found.Files, template.File{Path: e.Path, SigType: template.EFI})
			return nil
		}
		if strings.HasSuffix(e.Path, ".ko") {
			if err := job.CheckHead(template.LinuxModule, head, e.Size); err != nil {
				found.Skipped = append(found.Skipped, template.Skipped{Path: e.Path, Reason: err.Error()})
				return nil
			}
			found.Files = append(found.Files, template.File{Path: e.Path, SigType: template.LinuxModule})
		}
		return nil
	})
	if err != nil {
		return nil, inputerr.WithFile(err, path)
	}
	found.Pkg = pkg
	return found, nil
}
