package sign

import (
	"crypto"
	"errors"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
	"github.com/mksigned/mksigned/sign/pkcs11"
)

// TestOpenPEM: a file reference opens as LoadKey does, says it is "pem",
// and needs its certificate.
func TestOpenPEM(t *testing.T) {
	t.Parallel()
	k := testutil.NewKey(t, 2048)
	got, err := Open(k.KeyPath, OpenOptions{Cert: k.CertPath})
	if err != nil {
		t.Fatal(err)
	}
	if got.Backend != BackendPEM {
		t.Errorf("Backend: got %q, want %q", got.Backend, BackendPEM)
	}
	if !got.Cert.Equal(k.Cert) || !got.Signer.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Signer.Public()) {
		t.Errorf("opened another key or certificate")
	}
	for range 2 {
		if err := got.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	if err := (*Key)(nil).Close(); err != nil {
		t.Errorf("Close of nil: %v", err)
	}

	other := testutil.NewKey(t, 0)
	for _, c := range []struct{ name, cert, want string }{
		{"no certificate", "", "no certificate"},
		{"another key's certificate", other.CertPath, "does not match certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Open(k.KeyPath, OpenOptions{Cert: c.cert}); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
}

// TestOpenPKCS11Refs: a pkcs11: reference goes to the PKCS #11 backend
// (whose URI errors come back), and a certificate that cannot be read is
// an error naming the file, before any token is touched.
func TestOpenPKCS11Refs(t *testing.T) {
	t.Parallel()
	if _, err := Open("pkcs11:token=t;object=k?pin-value=1234", OpenOptions{}); !errors.Is(err, pkcs11.ErrPINValue) {
		t.Errorf("pin-value: got %v, want pkcs11.ErrPINValue", err)
	}
	missing := t.TempDir() + "/missing.crt"
	if _, err := Open("pkcs11:token=t;object=k", OpenOptions{Cert: missing}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing certificate: got %v, want an error naming %s", err, missing)
	}
}
