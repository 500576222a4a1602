package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/atomicfile"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/job"
)

// runTemplate is `mksigned template SUBCOMMAND`.
func runTemplate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("a subcommand is required: mksigned template build signing.yaml (--unsigned DEB)... --output DIR")
	}
	switch args[0] {
	case "build":
		return runTemplateBuild(ctx, args[1:], stdout)
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, "Usage:\n  mksigned template build signing.yaml (--unsigned DEB)... --output DIR\n\nRun 'mksigned template build -h' for its flags.\n")
		return flag.ErrHelp
	}
	return usagef("unknown subcommand %q (known: build)", args[0])
}

func runTemplateBuild(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("template build",
		"signing.yaml (--unsigned DEB)... --output DIR",
		`Write a Debian code-signing template (DIR/files.json and
DIR/source-template/) from signing.yaml, for mksigned generate --template DIR
or Debian's signing service. Each --unsigned package must hold the files
signing.yaml lists, of the kind their sig-type signs; the template pins
Build-Depends to its exact version. DIR must not exist.

The changelog's date is SOURCE_DATE_EPOCH, else the newest modification
time in the unsigned packages' data: the same inputs give the same bytes.
`, stdout)
	var unsigned multiFlag
	var out string
	fs.Var(&unsigned, "unsigned", "unsigned package `DEB` named in signing.yaml (repeat for each)")
	fs.StringVar(&out, "output", "", "code-signing directory `DIR` to make")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 1:
		return usagef("want one signing.yaml, got %d arguments", len(pos))
	case len(unsigned) == 0:
		return usagef("--unsigned is required, once for each package signing.yaml names")
	case out == "":
		return usagef("--output is required")
	}
	if err := deb.CheckDecompressEnv(); err != nil {
		return err
	}
	data, err := job.ReadSpecFile(pos[0])
	if err != nil {
		return err
	}
	files, _, err := job.BuildSpec(ctx, pos[0], data, unsigned, os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // interrupted: write nothing
	}
	if err := atomicfile.WriteDir(out, files); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", inputerr.Name(out))
	return nil
}
