package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mksigned/mksigned/job"
	"github.com/mksigned/mksigned/sign"
)

func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("generate",
		"--template T (--unsigned DEB)... (--key KEY --cert CERT | --signatures DIR) --output DIR",
		`Sign the files a Debian signing template lists and write the -signed
source package (<Source>_<version>.dsc and .tar.xz) into DIR, as Debian's
code-signing service would. T is a *-signed-template .deb or a code-signing
directory (the one holding files.json and source-template/).

Signing time and tarball timestamps come from SOURCE_DATE_EPOCH, else the
template changelog's top date: the same inputs give the same bytes.
`, stdout, stderr)
	var o job.GenerateOptions
	var unsigned multiFlag
	var keyPath, certPath string
	fs.StringVar(&o.Template, "template", "", "signing template: `T` is a .deb or a code-signing directory")
	fs.Var(&unsigned, "unsigned", "unsigned package `DEB` named in files.json (repeat for each)")
	fs.StringVar(&keyPath, "key", "", "PEM private `KEY` (RSA; PKCS#1 or PKCS#8)")
	fs.StringVar(&certPath, "cert", "", "X.509 certificate `CERT` of the key, PEM or DER; with --signatures, checks them")
	fs.StringVar(&o.Signatures, "signatures", "", "use detached signatures from `DIR`/<package>/<path>.sig instead of signing")
	fs.StringVar(&o.Output, "output", "", "directory `DIR` to write the .dsc and .tar.xz into (created if missing)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "check everything that needs no key, print the plan, write nothing")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	o.Unsigned = unsigned
	switch {
	case len(pos) > 0:
		return usagef("unexpected argument %q", pos[0])
	case o.Template == "":
		return usagef("--template is required")
	case len(o.Unsigned) == 0:
		return usagef("at least one --unsigned package is required")
	case o.Output == "" && !o.DryRun:
		return usagef("--output is required")
	case o.Signatures != "" && keyPath != "":
		return usagef("--key and --signatures exclude each other: sign here, or take signatures made elsewhere")
	case o.Signatures == "" && !o.DryRun && (keyPath == "" || certPath == ""):
		return usagef("--key and --cert are required (or --signatures DIR, or --dry-run)")
	case keyPath != "" && certPath == "":
		return usagef("--key needs --cert")
	}
	o.SourceDateEpoch = os.Getenv("SOURCE_DATE_EPOCH")
	if !o.DryRun {
		if keyPath != "" {
			// Load the key first: a key that does not match its
			// certificate is an error before any work.
			if o.Key, err = sign.LoadPEMKey(keyPath, certPath); err != nil {
				return err
			}
		} else if certPath != "" {
			if o.Cert, err = sign.LoadCertificate(certPath); err != nil {
				return err
			}
		}
	}
	r, err := job.Generate(o)
	if err != nil {
		return err
	}
	if o.DryRun {
		printPlan(stdout, r, o.Output)
		return nil
	}
	for _, w := range r.Written {
		fmt.Fprintf(stdout, "wrote %s\n", w)
	}
	return nil
}

func printPlan(w io.Writer, r *job.Result, out string) {
	t := r.Template
	fmt.Fprintf(w, "template %s: source %s version %s, %d file(s) to sign, time %s\n",
		t.Name, t.SourceName, t.Version, len(r.Items), r.Epoch.Format("2006-01-02T15:04:05Z"))
	for _, it := range r.Items {
		fmt.Fprintf(w, "sign %-12s %s %s (%d bytes, from %s) -> %s\n",
			it.File.SigType, it.Package, it.File.Path, it.Size, filepath.Base(it.Deb), it.SigPath())
	}
	if out == "" {
		out = "<output>"
	}
	fmt.Fprintf(w, "would write %s\n", filepath.Join(out, r.DSC))
	fmt.Fprintf(w, "would write %s\n", filepath.Join(out, r.Tar))
}
