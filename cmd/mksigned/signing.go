package main

import (
	"context"
	"fmt"
	"os"

	"github.com/mksigned/mksigned/audit"
	"github.com/mksigned/mksigned/internal/clobber"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/job"
	"github.com/mksigned/mksigned/sign"
)

// openSigning sets what generate and process sign with in o, from their
// flags: the inputs no output may replace, the key (or, without one, the
// certificate that checks given signatures), the upload's OpenPGP key
// (up) and the audit log, whose requester defaults to $SSH_CLIENT's
// address. closeAll closes what it opened, and is never nil.
func openSigning(ctx context.Context, k *keyRef, up *uploadFlags, auditLog string, o *job.GenerateOptions) (closeAll func(), err error) {
	var closers []func() error
	closeAll = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	o.Inputs = append(k.inputs(), clobber.Input{Flag: "--audit-log", Path: auditLog})
	// Load the key first: a key that does not match its certificate is an
	// error before any work (a dry run too checks what it is given).
	if k.key != "" {
		if o.Key, err = k.open(ctx); err != nil {
			return closeAll, err
		}
		closers = append(closers, o.Key.Close)
	} else if k.cert != "" {
		if o.Cert, err = sign.LoadCertificate(k.cert); err != nil {
			return closeAll, err
		}
	}
	// The upload key too, before the audit log is created: a key that
	// cannot sign or a wrong passphrase leaves nothing written.
	o.Inputs = append(o.Inputs, up.inputs()...)
	if o.Upload, err = up.open(ctx); err != nil {
		return closeAll, err
	}
	if auditLog != "" {
		// Opened (and created) once the key has loaded, before any work:
		// a log that cannot take the record stops the run before
		// anything is signed.
		if o.AuditLog, err = audit.OpenContext(ctx, auditLog); err != nil {
			return closeAll, fmt.Errorf("--audit-log %s: %w", inputerr.Name(auditLog), err)
		}
		if a := o.AuditLog; a.Cut > 0 {
			fmt.Fprintf(os.Stderr, "mksigned: audit log %s: cut off the %d bytes of an unfinished record that a killed run left at its end (that run's signatures never left)\n", inputerr.Name(auditLog), a.Cut)
		}
		closers = append(closers, o.AuditLog.Close)
		if o.Requester == "" {
			o.Requester = sshClient()
		}
	}
	return closeAll, nil
}
