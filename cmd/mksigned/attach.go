package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"strings"

	"github.com/mksigned/mksigned/internal/atomicfile"
	"github.com/mksigned/mksigned/internal/clobber"
	"github.com/mksigned/mksigned/job"
	"github.com/mksigned/mksigned/sign"
	"github.com/mksigned/mksigned/sign/efi"
	"github.com/mksigned/mksigned/sign/kmod"
	"github.com/mksigned/mksigned/sign/sigtype"
)

func runAttach(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("attach", "--type "+typeSynopsis()+" --signature SIG --output OUT FILE",
		`Attach the detached signature SIG to FILE and write the signed file to OUT:
the bytes sbattach --attach gives for efi, and the layout Linux's sign-file
appends for linux-module. An efi signature must be over FILE's digest. A
module signature carries no certificate: its structure is checked, and with
--cert that it verifies over FILE.
`, stdout)
	var typ, sigPath, out, certPath string
	fs.StringVar(&certPath, "cert", "", "check a linux-module signature against this certificate `CERT`")
	fs.StringVar(&typ, "type", "", typeUsage())
	fs.StringVar(&sigPath, "signature", "", "detached PKCS#7 signature `SIG` (DER)")
	fs.StringVar(&out, "output", "", "where to write the signed file `OUT`")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := checkType(typ); err != nil {
		return err
	}
	switch {
	case len(pos) != 1:
		return usagef("want exactly one FILE, got %d", len(pos))
	case sigPath == "":
		return usagef("--signature is required")
	case out == "":
		return usagef("--output is required")
	}
	if err := checkOutputFile(out, clobber.Input{Flag: "FILE", Path: pos[0]}, clobber.Input{Flag: "--signature", Path: sigPath},
		clobber.Input{Flag: "--cert", Path: certPath}); err != nil {
		return err
	}
	data, err := job.ReadLimited(ctx, pos[0], job.MaxFileSize, "a file to sign")
	if err != nil {
		return err
	}
	sig, err := job.ReadLimited(ctx, sigPath, job.MaxSignatureSize, "a detached signature")
	if err != nil {
		return err
	}
	var signed []byte
	switch sign.SigType(typ) {
	case sign.EFI:
		signed, err = efi.Attach(data, sig)
	case sign.LinuxModule:
		var cert *x509.Certificate
		if certPath != "" {
			if cert, err = sign.LoadCertificate(certPath); err != nil {
				return err
			}
		}
		if err = kmod.Verify(data, sig, cert); err == nil {
			signed, err = kmod.Attach(data, sig)
		}
	default:
		return fmt.Errorf("attach does not know how to attach a %s signature", typ)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if err := ctx.Err(); err != nil {
		return err // interrupted: write nothing
	}
	return writeOutput(stdout, out, signed)
}

func runDetach(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("detach", "--type "+typeSynopsis()+" --output SIG SIGNED",
		`Write the signature of the signed file SIGNED to SIG as detached DER: the
bytes sbattach --detach gives for efi (the first signature), and the PKCS#7
that sign-file appended for linux-module.
`, stdout)
	var typ, out string
	fs.StringVar(&typ, "type", "", typeUsage())
	fs.StringVar(&out, "output", "", "where to write the signature `SIG`")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := checkType(typ); err != nil {
		return err
	}
	switch {
	case len(pos) != 1:
		return usagef("want exactly one SIGNED file, got %d", len(pos))
	case out == "":
		return usagef("--output is required")
	}
	if err := checkOutputFile(out, clobber.Input{Flag: "SIGNED", Path: pos[0]}); err != nil {
		return err
	}
	data, err := job.ReadLimited(ctx, pos[0], job.MaxFileSize+job.MaxSignatureSize, "a signed file")
	if err != nil {
		return err
	}
	var sig []byte
	switch sign.SigType(typ) {
	case sign.EFI:
		sig, err = efi.Detach(data, 0)
	case sign.LinuxModule:
		_, sig, err = kmod.Detach(data)
	default:
		return fmt.Errorf("detach does not know how to detach a %s signature", typ)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if err := ctx.Err(); err != nil {
		return err // interrupted: write nothing
	}
	return writeOutput(stdout, out, sig)
}

// checkType checks --type against the sig_type registry.
func checkType(typ string) error {
	if _, ok := sigtype.Lookup(typ); ok {
		return nil
	}
	known := strings.Join(sigtype.Names(), " or ")
	if typ == "" {
		return usagef("--type is required (%s)", known)
	}
	return usagef("unknown --type %q (%s)", typ, known)
}

// typeSynopsis is --type's argument in a synopsis: efi|linux-module.
func typeSynopsis() string { return strings.Join(sigtype.Names(), "|") }

// typeUsage is the help of --type.
func typeUsage() string {
	names := sigtype.Names()
	return "signature type: `" + names[0] + "` or " + strings.Join(names[1:], " or ")
}

// checkOutputFile refuses, before any work, an output that is a
// directory or in none, one that is not a regular file, and one that is
// an input (see clobber.OutputFile).
func checkOutputFile(out string, inputs ...clobber.Input) error {
	return clobber.OutputFile("--output", out, inputs...)
}

// writeOutput writes data to out through a temporary file beside it, so a
// failure never leaves half a file; checkOutputFile has checked out.
func writeOutput(stdout io.Writer, out string, data []byte) error {
	if err := atomicfile.Write(out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", out)
	return nil
}
