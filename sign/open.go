package sign

import (
	"crypto/rsa"
	"fmt"

	"github.com/mksigned/mksigned/sign/pkcs11"
)

// Key backends, as Key.Backend names them.
const (
	BackendPEM    = "pem"    // a PEM private key file (LoadKey)
	BackendPKCS11 = "pkcs11" // a key in a PKCS #11 token (package pkcs11)
)

// OpenOptions are Open's inputs beside the key reference.
type OpenOptions struct {
	// Cert is the certificate file, PEM or DER: required with a PEM key;
	// with a PKCS #11 key, empty takes the certificate from the token (the
	// certificate object with the URI's object= and id=).
	Cert string
	// Passphrase decrypts an encrypted PEM key (see LoadKey).
	Passphrase Passphrase
	// PKCS11Module is the PKCS #11 library when the URI has no
	// module-path=; empty means $MKSIGNED_PKCS11_MODULE.
	PKCS11Module string
}

// IsPKCS11 says whether ref names a key in a PKCS #11 token (a pkcs11:
// URI) rather than a PEM file.
func IsPKCS11(ref string) bool { return pkcs11.IsURI(ref) }

// Open opens the signing key ref names: a PEM private key file, or a key
// in a PKCS #11 token named by an RFC 7512 URI (pkcs11:token=...;object=...,
// see package pkcs11), and checks it against its certificate. The Key says
// its Backend; Close it when signing is over (for a token, that ends the
// session).
func Open(ref string, o OpenOptions) (*Key, error) {
	if !IsPKCS11(ref) {
		if o.Cert == "" {
			return nil, fmt.Errorf("key %s: no certificate given for it", ref)
		}
		k, err := LoadKey(ref, o.Cert, o.Passphrase)
		if err != nil {
			return nil, err
		}
		k.Backend = BackendPEM
		return k, nil
	}
	po := pkcs11.Options{Module: o.PKCS11Module, CertName: o.Cert}
	if o.Cert != "" {
		cert, err := LoadCertificate(o.Cert)
		if err != nil {
			return nil, err
		}
		po.Cert = cert
	}
	k, err := pkcs11.Open(ref, po)
	if err != nil {
		return nil, err
	}
	// The same floor as for a key in a file, checked on the public key
	// the token reports.
	if pub, ok := k.Signer.Public().(*rsa.PublicKey); ok && pub.N.BitLen() < MinRSABits {
		k.Close()
		return nil, fmt.Errorf("key %s: an RSA key of %d bits is too small: signing keys need at least %d", ref, pub.N.BitLen(), MinRSABits)
	}
	return &Key{Signer: k.Signer, Cert: k.Cert, Backend: BackendPKCS11, close: k.Close}, nil
}

// Close releases what the key holds: a PKCS #11 session; nothing for a
// key in memory. It may be called more than once, and on nil.
func (k *Key) Close() error {
	if k == nil || k.close == nil {
		return nil
	}
	c := k.close
	k.close = nil
	return c()
}
