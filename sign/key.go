// Package sign holds what every signature type shares: a signing key (a
// crypto.Signer and its certificate, never private key bytes) and the
// loading of keys and certificates. Each signature type has its own
// subpackage (efi, kmod) with separate Digest, Sign and Attach steps.
package sign

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/mksigned/mksigned/internal/inputfile"
)

// SigType is a signature type, as named in a template's files.json.
type SigType string

// Signature types.
const (
	EFI         SigType = "efi"          // Authenticode on a PE/COFF image
	LinuxModule SigType = "linux-module" // appended PKCS#7 on a kernel module
)

// Key is a private key usable as a crypto.Signer plus its certificate.
// Format code only ever sees these two.
type Key struct {
	Signer crypto.Signer
	Cert   *x509.Certificate
	// Backend names where the key lives, as Open sets it: "pem" or
	// "pkcs11" (see open.go).
	Backend string
	close   func() error
}

// MinRSABits is the smallest RSA key LoadKey accepts: NIST's floor for
// signatures since 2014 (SP 800-131A). Without it a 1024-bit key signed,
// and a 512-bit one failed only at the first signature, in crypto/rsa
// (which refuses fewer than 1024 bits), after the packages were read.
const MinRSABits = 2048

// ErrEncryptedKey means a PEM private key is encrypted and no passphrase
// was given for it.
var ErrEncryptedKey = errors.New("the private key is encrypted and no passphrase was given")

// Passphrase returns the passphrase of an encrypted key. It is called only
// when the key turns out to be encrypted.
type Passphrase func() ([]byte, error)

// LoadPEMKey is LoadKey for a key that is not encrypted.
func LoadPEMKey(keyPath, certPath string) (*Key, error) { return LoadKey(keyPath, certPath, nil) }

// LoadKey loads a PEM private key (PKCS #1 "RSA PRIVATE KEY", PKCS #8
// "PRIVATE KEY" or SEC 1 "EC PRIVATE KEY") from keyPath and a certificate,
// PEM or DER, from certPath, and checks that the key belongs to the
// certificate. Only RSA keys of at least MinRSABits bits and ECDSA keys
// are accepted. An encrypted key (PKCS #8 "ENCRYPTED PRIVATE KEY" with
// PBES2, or OpenSSL's traditional Proc-Type/DEK-Info encryption) is
// decrypted with passphrase; with passphrase nil it is ErrEncryptedKey.
// Errors name the files and never contain key material or the
// passphrase.
func LoadKey(keyPath, certPath string, passphrase Passphrase) (*Key, error) {
	cert, err := LoadCertificate(certPath)
	if err != nil {
		return nil, err
	}
	signer, err := loadPEMPrivateKey(keyPath, passphrase)
	if err != nil {
		return nil, err
	}
	if k, ok := signer.(*rsa.PrivateKey); ok && k.N.BitLen() < MinRSABits {
		return nil, fmt.Errorf("key %s: an RSA key of %d bits is too small: signing keys need at least %d", keyPath, k.N.BitLen(), MinRSABits)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("key %s does not match certificate %s (subject %s)", keyPath, certPath, cert.Subject)
	}
	return &Key{Signer: signer, Cert: cert}, nil
}

func loadPEMPrivateKey(path string, passphrase Passphrase) (crypto.Signer, error) {
	data, err := inputfile.ReadFile(context.Background(), path)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err) // the error names the file
	}
	signer, err := parsePEMPrivateKey(data, passphrase)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	return signer, nil
}

// parsePEMPrivateKey returns the first private key in data. Its errors
// never quote data.
func parsePEMPrivateKey(data []byte, passphrase Passphrase) (crypto.Signer, error) {
	getPass := func() ([]byte, error) {
		if passphrase == nil {
			return nil, ErrEncryptedKey
		}
		return passphrase()
	}
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM private key found (want RSA PRIVATE KEY, PRIVATE KEY or EC PRIVATE KEY)")
		}
		var key any
		var err error
		der, decrypted := block.Bytes, false
		switch block.Type {
		case "ENCRYPTED PRIVATE KEY":
			pass, err := getPass()
			if err != nil {
				return nil, err
			}
			if der, err = decryptPKCS8(block.Bytes, pass); err != nil {
				return nil, err
			}
			block.Type, decrypted = "PRIVATE KEY", true
		case "RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY":
			//lint:ignore SA1019 the traditional encryption is weak (an MD5-based KDF), but keys made by openssl -traditional exist, and reading one is no weaker than the file
			if x509.IsEncryptedPEMBlock(block) {
				pass, err := getPass()
				if err != nil {
					return nil, err
				}
				//lint:ignore SA1019 as above
				if der, err = x509.DecryptPEMBlock(block, pass); err != nil {
					if errors.Is(err, x509.IncorrectPasswordError) {
						return nil, ErrPassphrase
					}
					return nil, fmt.Errorf("PEM block %q: %w", block.Type, err)
				}
				decrypted = true
			} else if _, ok := block.Headers["DEK-Info"]; ok || block.Headers["Proc-Type"] != "" {
				return nil, fmt.Errorf("PEM block %q: unknown encryption headers", block.Type)
			}
		default:
			continue // EC PARAMETERS, a certificate in the same file, ...
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(der)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(der)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(der)
		}
		if err != nil && decrypted && !isPrivateKeyInfo(der, block.Type) {
			// A padding check lets about one wrong passphrase in 256
			// through; what it decrypts to is not even the right shape. A
			// well-formed PrivateKeyInfo of a type x509 does not take (Ed448,
			// DSA) gets x509's own error below.
			return nil, ErrPassphrase
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %q: %w", block.Type, err)
		}
		switch k := key.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case *ecdsa.PrivateKey:
			return k, nil
		}
		return nil, fmt.Errorf("unsupported key type %T (want RSA or ECDSA)", key)
	}
}

// LoadCertificate loads one X.509 certificate from path, PEM ("CERTIFICATE")
// or DER. A PEM file must hold exactly one certificate.
func LoadCertificate(path string) (*x509.Certificate, error) {
	data, err := inputfile.ReadFile(context.Background(), path)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err) // the error names the file
	}
	der := data
	if block, _ := pem.Decode(data); block != nil {
		der = nil
		n := 0
		for rest := data; ; {
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type == "CERTIFICATE" {
				n++
				der = block.Bytes
			}
		}
		if n != 1 {
			return nil, fmt.Errorf("certificate %s: found %d PEM CERTIFICATE blocks, want 1", path, n)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", path, err)
	}
	return cert, nil
}

// isPrivateKeyInfo says whether der is shaped as a PKCS #8 PrivateKeyInfo
// (for typ "PRIVATE KEY": SEQUENCE { INTEGER, AlgorithmIdentifier,
// OCTET STRING, ... } with nothing after it), whatever its algorithm.
func isPrivateKeyInfo(der []byte, typ string) bool {
	if typ != "PRIVATE KEY" {
		return false
	}
	var info struct {
		Version    int
		Algorithm  algorithmIdentifier
		PrivateKey []byte
		Rest       asn1.RawValue `asn1:"optional,tag:0"`
		Public     asn1.RawValue `asn1:"optional,tag:1"`
	}
	rest, err := asn1.Unmarshal(der, &info)
	return err == nil && len(rest) == 0
}
