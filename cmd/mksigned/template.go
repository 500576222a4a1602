package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/atomicfile"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/job"
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
	data, err := job.ReadSpecFile(pos[0])
	if err != nil {
		return err
	}
	b, err := job.BuildSpec(ctx, pos[0], data, unsigned, os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return err
	}
	files := b.Files
	var debPath string
	var debData []byte
	if debDir != "" {
		var name string
		if name, debData, err = b.Spec.BuildDeb(files, b.Unsigned, b.Date); err != nil {
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
