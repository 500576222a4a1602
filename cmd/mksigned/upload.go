package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/mksigned/mksigned/internal/clobber"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/pgpsign"
	"github.com/mksigned/mksigned/job"
	"github.com/mksigned/mksigned/sign"
)

// envUploadPassphrase holds the passphrase of an encrypted --upload-key.
const envUploadPassphrase = "MKSIGNED_UPLOAD_PASSPHRASE"

// uploadFlags are --changes and the flags that clear-sign the upload.
type uploadFlags struct {
	key, passFile, keyID string
}

func (u *uploadFlags) define(fs *flagSet, o *job.GenerateOptions) {
	fs.BoolVar(&o.Changes, "changes", false, "also write <Source>_<version>_source.changes, as dpkg-genchanges -S would")
	fs.StringVar(&u.key, "upload-key", "", "clear-sign the .dsc (and the .changes) as debsign does with the armored\n"+
		"OpenPGP secret key `FILE`; the signature time is the tarball's")
	fs.StringVar(&u.passFile, "upload-passphrase-file", "", "read the passphrase of an encrypted --upload-key from `FILE` (else $"+envUploadPassphrase+")")
	fs.StringVar(&u.keyID, "upload-key-id", "", "clear-sign the .dsc (and the .changes) with gpg --local-user `FPR`\n"+
		"(a smartcard or gpg-agent key; $GNUPGHOME as gpg reads it)")
}

func (u *uploadFlags) check() error {
	switch {
	case u.key != "" && u.keyID != "":
		return usagef("--upload-key and --upload-key-id exclude each other: sign with a key file, or with gpg")
	case u.passFile != "" && u.key == "":
		return usagef("--upload-passphrase-file needs --upload-key")
	}
	return nil
}

// inputs are the files u names, which no output may overwrite.
func (u *uploadFlags) inputs() []clobber.Input {
	return []clobber.Input{{Flag: "--upload-key", Path: u.key}, {Flag: "--upload-passphrase-file", Path: u.passFile}}
}

// given says whether any flag of u but --changes is set.
func (u *uploadFlags) given() bool { return u.key != "" || u.passFile != "" || u.keyID != "" }

// open loads --upload-key (or checks that gpg has --upload-key-id's
// secret key): nil when neither is given.
func (u *uploadFlags) open(ctx context.Context) (job.ClearSigner, error) {
	switch {
	case u.keyID != "":
		g := pgpsign.GPG{ID: u.keyID}
		if err := g.Check(ctx); err != nil {
			return nil, err
		}
		return g, nil
	case u.key == "":
		return nil, nil
	}
	pass := passphraseFrom(ctx, u.passFile, envUploadPassphrase)
	k, err := pgpsign.LoadKey("--upload-key", u.key, func() ([]byte, error) {
		p, err := pass()
		if errors.Is(err, sign.ErrEncryptedKey) {
			err = fmt.Errorf("no passphrase given: give it in $%s or --upload-passphrase-file FILE", envUploadPassphrase)
		}
		return p, err
	})
	os.Unsetenv(envUploadPassphrase) // children need it not
	if err != nil {
		return nil, err
	}
	return k, nil
}

// uploadName says what clear-signs the upload: "OpenPGP key FPR" or
// "gpg --local-user ID"; "" for nothing.
func uploadName(s job.ClearSigner) string {
	switch s := s.(type) {
	case *pgpsign.Key:
		return "OpenPGP key " + s.Fingerprint()
	case pgpsign.GPG:
		return "gpg --local-user " + inputerr.Value(s.ID)
	}
	return ""
}
