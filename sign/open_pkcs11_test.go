//go:build cgo

package sign

import (
	"crypto"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// TestOpenPKCS11 opens a key from a SoftHSM2 token, with the certificate
// from the token and from a file: Backend is "pkcs11", the key signs as
// its PEM file does, and Close ends the session. Not parallel: SoftHSM2
// is configured through the environment.
func TestOpenPKCS11(t *testing.T) {
	h := testutil.NewSoftHSM(t)
	k := testutil.NewKey(t, 2048)
	h.InitToken(t, "open-test")
	h.ImportKey(t, "open-test", k.KeyPath, "signkey", "01")
	h.WriteCert(t, "open-test", k.CertPath, "signkey", "01")
	digest := sha256.Sum256([]byte("x"))
	want, err := k.Signer.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	ref := "pkcs11:token=open-test;object=signkey?pin-source=file:" + h.PINFile
	for _, cert := range []string{"", k.CertPath} {
		key, err := Open(ref, OpenOptions{Cert: cert, PKCS11Module: h.Module})
		if err != nil {
			t.Fatal(err)
		}
		if key.Backend != BackendPKCS11 {
			t.Errorf("Backend: got %q, want %q", key.Backend, BackendPKCS11)
		}
		if !key.Cert.Equal(k.Cert) {
			t.Errorf("cert %q: got certificate %s", cert, key.Cert.Subject)
		}
		got, err := key.Signer.Sign(nil, digest[:], crypto.SHA256)
		if err != nil || string(got) != string(want) {
			t.Errorf("cert %q: the token's signature differs from the PEM key's (error %v)", cert, err)
		}
		if err := key.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := key.Signer.Sign(nil, digest[:], crypto.SHA256); err == nil {
			t.Errorf("cert %q: the key still signs after Close", cert)
		}
	}
}

// TestOpenPKCS11SmallKey: an RSA key under MinRSABits in a token is
// refused when opened, as one in a file is.
func TestOpenPKCS11SmallKey(t *testing.T) {
	h := testutil.NewSoftHSM(t)
	k := testutil.NewKey(t, 1024)
	h.InitToken(t, "small")
	h.ImportKey(t, "small", k.KeyPath, "signkey", "01")
	ref := "pkcs11:token=small;object=signkey?pin-source=file:" + h.PINFile
	_, err := Open(ref, OpenOptions{Cert: k.CertPath, PKCS11Module: h.Module})
	if err == nil || !strings.Contains(err.Error(), "an RSA key of 1024 bits is too small") || strings.Contains(err.Error(), h.PIN) {
		t.Errorf("Open of a 1024-bit token key: %v, want it refused (and no PIN in the message)", err)
	}
}
