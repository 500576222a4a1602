package libcrypto

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// requireLibcrypto skips on a laptop without OpenSSL 3 and fails in CI,
// which installs it (.ci/run) and must exercise this backend.
func requireLibcrypto(t *testing.T) {
	t.Helper()
	v, err := Version()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("OpenSSL's libcrypto.so.3 is required in CI (a cgo build and libssl3; see .ci/run): %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	t.Logf("%s", v)
}

func randomDigest(t *testing.T, h crypto.Hash) []byte {
	t.Helper()
	d := make([]byte, h.Size())
	if _, err := rand.Read(d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestMatchesGo: PKCS #1 v1.5 is deterministic, so OpenSSL's signature
// must be Go's, byte for byte, for every hash and key size.
func TestMatchesGo(t *testing.T) {
	requireLibcrypto(t)
	for _, bits := range []int{2048, 3072, 4096} {
		k := testutil.NewKey(t, bits).Signer.(*rsa.PrivateKey)
		s, err := New(k)
		if err != nil {
			t.Fatalf("RSA-%d: New: %v", bits, err)
		}
		for h := range digestNames {
			for range 10 {
				d := randomDigest(t, h)
				got, err := s.Sign(rand.Reader, d, h)
				if err != nil {
					t.Fatalf("RSA-%d %v: Sign: %v", bits, h, err)
				}
				want, err := rsa.SignPKCS1v15(nil, k, h, d)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("RSA-%d %v: OpenSSL's signature differs from Go's", bits, h)
				}
			}
		}
	}
}

// TestHandsRestToGo: what this backend does not sign in OpenSSL is still
// signed, by the Go key.
func TestHandsRestToGo(t *testing.T) {
	requireLibcrypto(t)
	k := testutil.NewKey(t, 2048).Signer.(*rsa.PrivateKey)
	s, err := New(k)
	if err != nil {
		t.Fatal(err)
	}
	d := randomDigest(t, crypto.SHA256)
	pss, err := s.Sign(rand.Reader, d, &rsa.PSSOptions{Hash: crypto.SHA256})
	if err != nil {
		t.Fatalf("PSS: %v", err)
	}
	if err := rsa.VerifyPSS(&k.PublicKey, crypto.SHA256, d, pss, nil); err != nil {
		t.Errorf("PSS signature does not verify: %v", err)
	}
	for _, h := range []crypto.Hash{0, crypto.MD5} {
		d := make([]byte, 16)
		got, err := s.Sign(rand.Reader, d, h)
		if err != nil {
			t.Fatalf("hash %v: %v", h, err)
		}
		want, _ := rsa.SignPKCS1v15(nil, k, h, d)
		if !bytes.Equal(got, want) {
			t.Errorf("hash %v: signature differs from Go's", h)
		}
	}
	if !s.Public().(*rsa.PublicKey).Equal(&k.PublicKey) {
		t.Error("Public() is not the key's public key")
	}
}

func TestDigestLength(t *testing.T) {
	requireLibcrypto(t)
	s, err := New(testutil.NewKey(t, 2048).Signer.(*rsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 20, 33} {
		_, err := s.Sign(rand.Reader, make([]byte, n), crypto.SHA256)
		if err == nil || !strings.Contains(err.Error(), "want 32") {
			t.Errorf("%d-byte SHA-256 digest: got error %v, want one saying 32 bytes", n, err)
		}
	}
}

// TestConcurrent signs from many goroutines at once (the workers do), for
// the race detector and for OpenSSL's shared key and per-thread state.
func TestConcurrent(t *testing.T) {
	requireLibcrypto(t)
	k := testutil.NewKey(t, 2048).Signer.(*rsa.PrivateKey)
	s, err := New(k)
	if err != nil {
		t.Fatal(err)
	}
	digests := make([][]byte, 64)
	want := make([][]byte, len(digests))
	for i := range digests {
		digests[i] = randomDigest(t, crypto.SHA256)
		want[i], _ = rsa.SignPKCS1v15(nil, k, crypto.SHA256, digests[i])
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range digests {
				i = (i + g*8) % len(digests)
				got, err := s.Sign(rand.Reader, digests[i], crypto.SHA256)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, want[i]) {
					errs <- errors.New("a concurrent signature differs from Go's")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestChoose(t *testing.T) {
	rsaKey := testutil.NewKey(t, 2048).Signer
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, loadErr := Version()
	for _, tc := range []struct {
		name, env string
		key       crypto.Signer
		want      string // the signer's type, or "" for an error
		wantErr   string
	}{
		{"go", "go", rsaKey, "*rsa.PrivateKey", ""},
		{"auto RSA", "", rsaKey, "*libcrypto.autoSigner", ""},
		{"auto word", "auto", rsaKey, "*libcrypto.autoSigner", ""},
		{"auto ECDSA", "", ecKey, "*ecdsa.PrivateKey", ""},
		{"openssl ECDSA", "openssl", ecKey, "", "only RSA keys"},
		{"unknown", "boringssl", rsaKey, "", `want go, openssl or auto`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(Env, tc.env)
			s, err := Choose(tc.key)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%T", s); got != tc.want {
				t.Errorf("got a %s, want a %s", got, tc.want)
			}
			if impl := Implementation(s); impl != "go" {
				t.Errorf("Implementation before any signature: %q, want go", impl)
			}
		})
	}
	t.Run("openssl required", func(t *testing.T) {
		t.Setenv(Env, "openssl")
		s, err := Choose(rsaKey)
		if loadErr == nil && (err != nil || Implementation(s) != "openssl") {
			t.Errorf("got %T, %v; want a libcrypto Signer", s, err)
		}
		if loadErr != nil && !errors.Is(err, ErrUnavailable) {
			t.Errorf("libcrypto is unavailable (%v), but Choose gave %T, %v", loadErr, s, err)
		}
	})
}

// TestAuto: the automatic signer makes its first autoAfter signatures with
// Go's RSA and the rest with OpenSSL (where it loads), all identical to
// Go's.
func TestAuto(t *testing.T) {
	k := testutil.NewKey(t, 2048).Signer.(*rsa.PrivateKey)
	t.Setenv(Env, "")
	s, err := Choose(k)
	if err != nil {
		t.Fatal(err)
	}
	_, loadErr := Version()
	for i := 1; i <= autoAfter+4; i++ {
		d := randomDigest(t, crypto.SHA256)
		got, err := s.Sign(rand.Reader, d, crypto.SHA256)
		if err != nil {
			t.Fatalf("signature %d: %v", i, err)
		}
		want, _ := rsa.SignPKCS1v15(nil, k, crypto.SHA256, d)
		if !bytes.Equal(got, want) {
			t.Fatalf("signature %d differs from Go's", i)
		}
		wantImpl := "go"
		if i > autoAfter && loadErr == nil {
			wantImpl = "openssl"
		}
		if impl := Implementation(s); impl != wantImpl {
			t.Fatalf("after %d signatures: Implementation %q, want %q", i, impl, wantImpl)
		}
	}
	if !s.Public().(*rsa.PublicKey).Equal(&k.PublicKey) {
		t.Error("Public() is not the key's public key")
	}
}

// TestAutoConcurrent: workers cross the autoAfter threshold together,
// one of them loading libcrypto while the others sign; every signature is
// Go's.
func TestAutoConcurrent(t *testing.T) {
	k := testutil.NewKey(t, 2048).Signer.(*rsa.PrivateKey)
	t.Setenv(Env, "")
	s, err := Choose(k)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 6 {
				d := make([]byte, crypto.SHA256.Size())
				if _, err := rand.Read(d); err != nil {
					errs <- err
					return
				}
				got, err := s.Sign(rand.Reader, d, crypto.SHA256)
				if err != nil {
					errs <- err
					return
				}
				if want, _ := rsa.SignPKCS1v15(nil, k, crypto.SHA256, d); !bytes.Equal(got, want) {
					errs <- errors.New("a signature differs from Go's")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, err := Version(); err == nil && Implementation(s) != "openssl" {
		t.Errorf("after 48 signatures: Implementation %q, want openssl", Implementation(s))
	}
}

// BenchmarkSign compares Go's RSA-2048 PKCS #1 v1.5 signing with
// OpenSSL's through this package (bench/go.sh tracks both).
func BenchmarkSign(b *testing.B) {
	k := testutil.NewKey(b, 2048).Signer.(*rsa.PrivateKey)
	digest := make([]byte, crypto.SHA256.Size())
	signers := map[string]crypto.Signer{"go": k}
	if s, err := New(k); err == nil {
		signers["openssl"] = s
	}
	for _, name := range []string{"go", "openssl"} {
		s, ok := signers[name]
		if !ok {
			continue // no libcrypto here
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Sign(nil, digest, crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
