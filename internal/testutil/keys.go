package testutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Key is a throwaway signing key with a self-signed certificate, written to
// files in the formats the real tools read.
type Key struct {
	KeyPath      string // PKCS #8 PEM ("PRIVATE KEY")
	KeyPKCS1Path string // PKCS #1 PEM ("RSA PRIVATE KEY") for RSA, SEC 1 ("EC PRIVATE KEY") for ECDSA
	CertPath     string // PEM certificate
	CertDERPath  string // DER certificate
	Signer       crypto.Signer
	Cert         *x509.Certificate
}

var (
	keyMu    sync.Mutex
	keyCache = map[string]generatedKey{}
)

type generatedKey struct {
	signer crypto.Signer
	cert   *x509.Certificate
}

// NewKey returns an RSA key of the given size (0 means an ECDSA P-256 key)
// with a self-signed code-signing certificate that has a subject key
// identifier, written under t.TempDir(). Keys are generated once per test
// binary and size, since RSA-4096 generation is slow; the files are new for
// every call.
func NewKey(t testing.TB, bits int) *Key {
	t.Helper()
	name := fmt.Sprintf("rsa%d", bits)
	if bits == 0 {
		name = "ecdsa-p256"
	}
	keyMu.Lock()
	g, ok := keyCache[name]
	if !ok {
		var err error
		g, err = generateKey(name, bits)
		if err != nil {
			keyMu.Unlock()
			t.Fatalf("generating test key %s: %v", name, err)
		}
		keyCache[name] = g
	}
	keyMu.Unlock()

	dir := t.TempDir()
	k := &Key{
		KeyPath:      filepath.Join(dir, name+".key"),
		KeyPKCS1Path: filepath.Join(dir, name+".trad.key"),
		CertPath:     filepath.Join(dir, name+".crt"),
		CertDERPath:  filepath.Join(dir, name+".der"),
		Signer:       g.signer,
		Cert:         g.cert,
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(g.signer)
	if err != nil {
		t.Fatal(err)
	}
	var trad *pem.Block
	switch s := g.signer.(type) {
	case *rsa.PrivateKey:
		trad = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(s)}
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(s)
		if err != nil {
			t.Fatal(err)
		}
		trad = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	}
	for path, data := range map[string][]byte{
		k.KeyPath:      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		k.KeyPKCS1Path: pem.EncodeToMemory(trad),
		k.CertPath:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: g.cert.Raw}),
		k.CertDERPath:  g.cert.Raw,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

func generateKey(name string, bits int) (generatedKey, error) {
	var signer crypto.Signer
	var err error
	if bits == 0 {
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		signer, err = rsa.GenerateKey(rand.Reader, bits)
	}
	if err != nil {
		return generatedKey{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return generatedKey{}, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return generatedKey{}, err
	}
	skid := sha1.Sum(pubDER) // any stable value will do; sign-file -k only copies it
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "mksigned test " + name, Organization: []string{"mksigned tests"}},
		NotBefore:             time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2046, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		SubjectKeyId:          skid[:],
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		return generatedKey{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return generatedKey{}, err
	}
	return generatedKey{signer: signer, cert: cert}, nil
}
