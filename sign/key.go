// Package sign holds what every signature type shares: a signing key (a
// crypto.Signer and its certificate, never private key bytes) and the
// loading of keys and certificates. Each signature type has its own
// subpackage (efi, kmod) with separate Digest, Sign and Attach steps.
package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
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
}

// ErrEncryptedKey means a PEM private key is encrypted, which is not
// supported: decrypt it, or keep it on a PKCS#11 token.
var ErrEncryptedKey = errors.New("encrypted private keys are not supported (decrypt it, e.g. with openssl pkey, or use a PKCS#11 token)")

// LoadPEMKey loads a PEM private key (PKCS #1 "RSA PRIVATE KEY", PKCS #8
// "PRIVATE KEY" or SEC 1 "EC PRIVATE KEY") from keyPath and a certificate,
// PEM or DER, from certPath, and checks that the key belongs to the
// certificate. Only RSA and ECDSA keys are accepted. Errors name the files
// and never contain key material.
func LoadPEMKey(keyPath, certPath string) (*Key, error) {
	cert, err := LoadCertificate(certPath)
	if err != nil {
		return nil, err
	}
	signer, err := loadPEMPrivateKey(keyPath)
	if err != nil {
		return nil, err
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("key %s does not match certificate %s (subject %s)", keyPath, certPath, cert.Subject)
	}
	return &Key{Signer: signer, Cert: cert}, nil
}

func loadPEMPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err) // the error names the file
	}
	signer, err := parsePEMPrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	return signer, nil
}

// parsePEMPrivateKey returns the first private key in data. Its errors
// never quote data.
func parsePEMPrivateKey(data []byte) (crypto.Signer, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM private key found (want RSA PRIVATE KEY, PRIVATE KEY or EC PRIVATE KEY)")
		}
		var key any
		var err error
		switch block.Type {
		case "ENCRYPTED PRIVATE KEY":
			return nil, ErrEncryptedKey
		case "RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY":
			if _, ok := block.Headers["DEK-Info"]; ok || block.Headers["Proc-Type"] == "4,ENCRYPTED" {
				return nil, ErrEncryptedKey
			}
		default:
			continue // EC PARAMETERS, a certificate in the same file, ...
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
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
	data, err := os.ReadFile(path)
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
