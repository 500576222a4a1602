//go:build !cgo

package pkcs11

import (
	"crypto"
	"crypto/x509"
	"fmt"
)

// Without cgo there is no PKCS #11: crypto11 and the C library it loads
// need it. The URI is still parsed, so that a bad one gets its own error.

// Key is a private key in a token; a build without cgo never makes one.
type Key struct {
	Signer crypto.Signer
	Cert   *x509.Certificate
}

// Close does nothing.
func (k *Key) Close() error { return nil }

// Open parses ref and returns ErrNoCgo.
func Open(ref string, o Options) (*Key, error) {
	u, err := ParseURI(ref)
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%s: %w", u, ErrNoCgo)
}
