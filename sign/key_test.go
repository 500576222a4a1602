package sign

import (
	"bytes"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

func TestLoadPEMKey(t *testing.T) {
	t.Parallel()
	for _, bits := range []int{2048, 4096, 0} {
		k := testutil.NewKey(t, bits)
		tests := []struct{ name, key, cert string }{
			{"pkcs8+pem", k.KeyPath, k.CertPath},
			{"traditional+pem", k.KeyPKCS1Path, k.CertPath},
			{"pkcs8+der", k.KeyPath, k.CertDERPath},
			{"traditional+der", k.KeyPKCS1Path, k.CertDERPath},
		}
		for _, tt := range tests {
			t.Run(filepath.Base(k.KeyPath)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				got, err := LoadPEMKey(tt.key, tt.cert)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Cert.Equal(k.Cert) {
					t.Errorf("got certificate %s, want %s", got.Cert.Subject, k.Cert.Subject)
				}
				if !got.Signer.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Signer.Public()) {
					t.Errorf("loaded key differs from the generated one")
				}
			})
		}
	}
}

// TestLoadOpenSSLKeys loads keys and certificates written by openssl.
func TestLoadOpenSSLKeys(t *testing.T) {
	t.Parallel()
	openssl := testutil.RequireTool(t, "openssl")
	dir := t.TempDir()
	testutil.Run(t, dir, openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k8.pem", "-out", "c.pem",
		"-subj", "/CN=openssl test key", "-days", "3650")
	testutil.Run(t, dir, openssl, "rsa", "-in", "k8.pem", "-traditional", "-out", "k1.pem")
	testutil.Run(t, dir, openssl, "x509", "-in", "c.pem", "-outform", "DER", "-out", "c.der")
	testutil.Run(t, dir, openssl, "ecparam", "-name", "prime256v1", "-genkey", "-out", "ec.pem") // EC PARAMETERS, then EC PRIVATE KEY
	testutil.Run(t, dir, openssl, "req", "-x509", "-new", "-key", "ec.pem", "-out", "ec.crt", "-subj", "/CN=openssl ec key", "-days", "3650")
	testutil.Run(t, dir, openssl, "pkey", "-in", "k8.pem", "-aes256", "-passout", "pass:secret", "-out", "enc8.pem")
	testutil.Run(t, dir, openssl, "rsa", "-in", "k8.pem", "-traditional", "-aes256", "-passout", "pass:secret", "-out", "enc1.pem")
	p := func(name string) string { return filepath.Join(dir, name) }

	for _, c := range [][2]string{{"k8.pem", "c.pem"}, {"k1.pem", "c.pem"}, {"k8.pem", "c.der"}, {"k1.pem", "c.der"}, {"ec.pem", "ec.crt"}} {
		k, err := LoadPEMKey(p(c[0]), p(c[1]))
		if err != nil {
			t.Errorf("%s with %s: %v", c[0], c[1], err)
			continue
		}
		if !strings.HasPrefix(k.Cert.Subject.CommonName, "openssl") {
			t.Errorf("%s: got subject %s", c[1], k.Cert.Subject)
		}
	}
	for _, enc := range []string{"enc8.pem", "enc1.pem"} {
		_, err := LoadPEMKey(p(enc), p("c.pem"))
		if !errors.Is(err, ErrEncryptedKey) || !strings.Contains(err.Error(), p(enc)) {
			t.Errorf("%s: got %v, want ErrEncryptedKey naming the file", enc, err)
		}
		assertNoKeyMaterial(t, err, p(enc))
	}
	_, err := LoadPEMKey(p("ec.pem"), p("c.pem"))
	if err == nil || !strings.Contains(err.Error(), "does not match certificate") {
		t.Errorf("EC key with an RSA certificate: got %v, want a mismatch", err)
	}
	assertNoKeyMaterial(t, err, p("ec.pem"))
}

func TestLoadPEMKeyErrors(t *testing.T) {
	t.Parallel()
	a := testutil.NewKey(t, 2048)
	b := testutil.NewKey(t, 4096)
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	secret := "c2VjcmV0IGtleSBtYXRlcmlhbCB0aGF0IG11c3QgbmV2ZXIgbGVhaw=="
	tests := []struct {
		name, key, cert string
		want            []string
	}{
		{"mismatch", a.KeyPath, b.CertPath, []string{"key " + a.KeyPath + " does not match certificate " + b.CertPath, "CN=mksigned test rsa4096"}},
		{"mismatch pkcs1", b.KeyPKCS1Path, a.CertDERPath, []string{"does not match certificate", "CN=mksigned test rsa2048"}},
		{"no pem", write("raw.key", "not a key at all "+secret), a.CertPath, []string{"raw.key", "no PEM private key"}},
		{"bad pkcs8", write("bad8.key", "-----BEGIN PRIVATE KEY-----\n"+secret+"\n-----END PRIVATE KEY-----\n"), a.CertPath, []string{"bad8.key", `PEM block "PRIVATE KEY"`}},
		{"bad pkcs1", write("bad1.key", "-----BEGIN RSA PRIVATE KEY-----\n"+secret+"\n-----END RSA PRIVATE KEY-----\n"), a.CertPath, []string{"bad1.key", `"RSA PRIVATE KEY"`}},
		{"only a certificate", a.CertPath, a.CertPath, []string{"no PEM private key"}},
		{"missing key", filepath.Join(dir, "nope.key"), a.CertPath, []string{"nope.key", "no such file"}},
		{"missing cert", a.KeyPath, filepath.Join(dir, "nope.crt"), []string{"certificate", "nope.crt", "no such file"}},
		{"cert is a key", a.KeyPath, a.KeyPath, []string{"found 0 PEM CERTIFICATE blocks"}},
		{"two certs", a.KeyPath, write("two.crt", readFile(t, a.CertPath)+readFile(t, b.CertPath)), []string{"two.crt", "found 2"}},
		{"garbage cert", a.KeyPath, write("junk.der", "\x30\x03\x02\x01\x01"), []string{"junk.der"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := LoadPEMKey(tt.key, tt.cert)
			if err == nil {
				t.Fatalf("got key %v, want an error", k)
			}
			t.Logf("error: %v", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret[:20]) {
				t.Errorf("error quotes the key file: %q", err)
			}
			assertNoKeyMaterial(t, err, tt.key)
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertNoKeyMaterial fails if err quotes any base64 line of the key file.
func assertNoKeyMaterial(t *testing.T, err error, keyPath string) {
	t.Helper()
	data, rerr := os.ReadFile(keyPath)
	if rerr != nil {
		return
	}
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		if len(line) >= 16 && !bytes.HasPrefix(line, []byte("-----")) && strings.Contains(err.Error(), string(line[:16])) {
			t.Errorf("error contains key material from %s: %q", keyPath, err)
		}
	}
}

func TestLoadCertificate(t *testing.T) {
	t.Parallel()
	k := testutil.NewKey(t, 2048)
	for _, path := range []string{k.CertPath, k.CertDERPath} {
		c, err := LoadCertificate(path)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Equal(k.Cert) {
			t.Errorf("%s: got %s, want %s", path, c.Subject, k.Cert.Subject)
		}
	}
}
