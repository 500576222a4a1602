package main

import (
	"context"
	"io"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/job"
	"github.com/mksigned/mksigned/sign"
)

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", "--dsc DSC (--unsigned DEB)... [--cert CERT] [(--signed DEB)...]",
		`For every signature in the -signed source package, take the unsigned
file, attach the signature in memory and check it cryptographically
(against CERT when given). With --signed, each reattached file must also be,
byte for byte, one of the files of the signed packages. One line per file,
OK or the reason; exit status 1 if any fails.
`, stdout)
	var o job.VerifyOptions
	var unsigned, signed multiFlag
	var certPath string
	fs.StringVar(&o.DSC, "dsc", "", "the source package's `DSC` file")
	fs.Var(&unsigned, "unsigned", "unsigned package `DEB` (repeat)")
	fs.Var(&signed, "signed", "signed binary package `DEB` to find the reattached files in (repeat)")
	fs.StringVar(&certPath, "cert", "", "check signatures against this certificate `CERT` (PEM or DER)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("unexpected argument %q", pos[0])
	case o.DSC == "":
		return usagef("--dsc is required")
	case len(unsigned) == 0:
		return usagef("at least one --unsigned package is required")
	}
	if err := deb.CheckDecompressEnv(); err != nil {
		return err
	}
	o.Unsigned, o.Signed, o.Out = unsigned, signed, stdout
	if certPath != "" {
		if o.Cert, err = sign.LoadCertificate(certPath); err != nil {
			return err
		}
	}
	lines, err := job.Verify(ctx, o)
	if err != nil {
		return err
	}
	for _, l := range lines {
		if l.Err != nil {
			return errReported
		}
	}
	return nil
}
