package testutil

import (
	"bytes"
	"crypto"
	"io"
	"testing"
)

// ReplaySigner is a crypto.Signer with a given public key that returns a
// given signature, after checking it was asked to sign WantHash with
// SHA-256. It lets a test rebuild a published signature (Debian's) without
// its private key, to compare everything around the RSA value byte for
// byte.
type ReplaySigner struct {
	T        testing.TB
	Pub      crypto.PublicKey
	WantHash []byte
	Sig      []byte
}

// Public returns the given public key.
func (s ReplaySigner) Public() crypto.PublicKey { return s.Pub }

// Sign checks the hash it is asked to sign and returns the given signature.
func (s ReplaySigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != crypto.SHA256 || !bytes.Equal(digest, s.WantHash) {
		s.T.Errorf("Sign called with %v hash %x, want SHA-256 %x", opts.HashFunc(), digest, s.WantHash)
	}
	return s.Sig, nil
}
