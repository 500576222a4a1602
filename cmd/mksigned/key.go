package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/mksigned/mksigned/internal/clobber"
	"github.com/mksigned/mksigned/sign"
	"github.com/mksigned/mksigned/sign/libcrypto"
	"github.com/mksigned/mksigned/sign/pkcs11"
)

// moduleUsage is the help of --pkcs11-module.
const moduleUsage = "PKCS#11 library `PATH` for a pkcs11: --key without module-path= (else $" + pkcs11.EnvModule + ")"

// keyRef is --key and the flags that go with it, as every command that
// signs takes them.
type keyRef struct{ key, cert, passFile, module string }

// addKeyFlags defines --key, --pkcs11-module, --key-passphrase-file and
// --cert on fs; certMore ends --cert's help.
func addKeyFlags(fs *flagSet, r *keyRef, certMore string) {
	fs.StringVar(&r.key, "key", "", "PEM private `KEY` (RSA or ECDSA; PKCS#1, PKCS#8 or SEC 1; may be encrypted),\n"+
		"or a key in a PKCS#11 token: pkcs11:token=LABEL;object=LABEL[?pin-source=file:PIN]")
	fs.StringVar(&r.module, "pkcs11-module", "", moduleUsage)
	fs.StringVar(&r.passFile, "key-passphrase-file", "", "read the passphrase of an encrypted --key from `FILE` (else $"+envPassphrase+" or $KBUILD_SIGN_PIN)")
	fs.StringVar(&r.cert, "cert", "", "X.509 certificate `CERT` of the key, PEM or DER (a pkcs11: key without it takes\n"+
		"the token's)"+certMore)
}

// inputs are the files k names, which no output may overwrite.
func (r *keyRef) inputs() []clobber.Input {
	return []clobber.Input{{Flag: "--key", Path: r.key}, {Flag: "--cert", Path: r.cert}, {Flag: "--key-passphrase-file", Path: r.passFile}}
}

// check checks the flags that go with --key: a PEM key needs --cert
// and may take --key-passphrase-file; a pkcs11: URI may take
// --pkcs11-module, and its certificate may come from the token.
func (r *keyRef) check() error {
	keyPath, certPath, passFile, module := r.key, r.cert, r.passFile, r.module
	isURI := sign.IsPKCS11(keyPath)
	switch {
	case keyPath != "" && !isURI && certPath == "":
		return usagef("--key needs --cert (only a pkcs11: key can take its certificate from the token)")
	case passFile != "" && keyPath == "":
		return usagef("--key-passphrase-file needs --key")
	case passFile != "" && isURI:
		return usagef("--key-passphrase-file is for PEM keys: a token's PIN comes from pin-source=file:PATH in the URI or $%s", pkcs11.EnvPIN)
	case module != "" && !isURI:
		return usagef("--pkcs11-module needs a pkcs11: --key")
	}
	return nil
}

// open opens --key: a PEM file, or a key in a PKCS #11 token. A PEM
// RSA key signs through OpenSSL where it loads ($MKSIGNED_CRYPTO); a
// token's key signs in the token, never anywhere else.
func (r *keyRef) open(ctx context.Context) (*sign.Key, error) {
	keyPath, certPath, passFile, module := r.key, r.cert, r.passFile, r.module
	k, err := sign.Open(keyPath, sign.OpenOptions{Cert: certPath, Passphrase: passphrase(ctx, passFile), PKCS11Module: module})
	// Children (the xz program) need no passphrase or PIN.
	for _, env := range []string{envPassphrase, "KBUILD_SIGN_PIN", pkcs11.EnvPIN} {
		os.Unsetenv(env)
	}
	switch {
	case errors.Is(err, sign.ErrEncryptedKey):
		return nil, fmt.Errorf("%w: give it in $%s or $KBUILD_SIGN_PIN, or --key-passphrase-file FILE", err, envPassphrase)
	case errors.Is(err, pkcs11.ErrPINValue):
		return nil, usagef("--key: %v", err)
	case err != nil:
		return nil, err
	}
	if k.Backend != sign.BackendPEM {
		if os.Getenv(libcrypto.Env) == "openssl" {
			k.Close()
			return nil, fmt.Errorf("$%s is openssl, but the key is in a PKCS#11 token: it signs there", libcrypto.Env)
		}
		return k, nil
	}
	if k.Signer, err = libcrypto.Choose(k.Signer); err != nil {
		return nil, fmt.Errorf("key %s: %w", keyPath, err)
	}
	return k, nil
}

// cryptoName is what --json reports as "crypto": "pkcs11" for a key that
// signs in a token, else the RSA implementation that signed ("openssl" or
// "go").
func cryptoName(k *sign.Key) string {
	if k.Backend == sign.BackendPKCS11 {
		return sign.BackendPKCS11
	}
	return libcrypto.Implementation(k.Signer)
}
