// Package libcrypto is a key backend: it signs with an RSA key through the
// system's OpenSSL 3 (libcrypto.so.3), loaded at run time with dlopen.
//
// Why: Go's crypto/rsa signs RSA-2048 about 4x slower than OpenSSL on
// x86-64 (docs/formats.md §5), and signing thousands of kernel modules is then
// the larger part of a run. OpenSSL is what Linux's sign-file and sbsign
// sign with. The only well-kept Go binding, golang-fips/openssl, is not
// served to us, so this is the smallest binding that does the job: one
// import of a PKCS #1 key, one EVP_PKEY_sign per signature, no headers
// needed at build time (the few prototypes are declared here), and a
// program that still runs, on Go's RSA, where libcrypto.so.3 is missing
// or the build has no cgo.
//
// The key reaches OpenSSL as PKCS #1 DER in memory, never a file. The
// buffer handed over is cleared after the import, but encoding/asn1 leaves
// copies of its parts in Go's garbage, as the Go key itself stays in
// memory for the whole run; OpenSSL clears its copy when the key is freed.
// The library is found by its soname, as any dynamically linked program
// finds its libraries, and reads openssl.cnf: on a signing host that
// trusts only the Go binary, set MKSIGNED_CRYPTO=go.
//
// PKCS #1 v1.5 signatures are deterministic, so a signer from this package
// and Go's give the same bytes; New checks that once per key. Against
// faults, OpenSSL checks each CRT result with the public exponent and
// recomputes without CRT on a mismatch (rsa_ossl_mod_exp), as Go checks
// its own.
package libcrypto

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// Env names the environment variable that chooses the RSA implementation:
// "go" for Go's crypto/rsa, "openssl" to require libcrypto (an error when
// it cannot be used), empty or "auto" for libcrypto from the signature
// after the first autoAfter, where it can be used (see Choose).
const Env = "MKSIGNED_CRYPTO"

// ErrUnavailable means libcrypto.so.3 could not be loaded; errors.Is finds
// it in Version's and New's errors.
var ErrUnavailable = errors.New("OpenSSL's libcrypto is not available")

// Version returns OpenSSL's version text (e.g. "OpenSSL 3.0.17 1 Jul
// 2025"), loading libcrypto.so.3 once, or an error wrapping ErrUnavailable.
func Version() (string, error) { return load() }

// Signer is an RSA crypto.Signer backed by libcrypto. It signs PKCS #1
// v1.5 with SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512 in OpenSSL and
// hands anything else (PSS, an unknown or no hash) to the Go key it was
// made from. Its methods are safe for concurrent use.
type Signer struct {
	goKey *rsa.PrivateKey
	pkey  *pkey
}

// Public returns the key's public half.
func (s *Signer) Public() crypto.PublicKey { return s.goKey.Public() }

// Sign signs digest, which must be the hash of the message under
// opts.HashFunc(). rand is not used by OpenSSL's PKCS #1 v1.5 path (the
// signature is deterministic; OpenSSL blinds with its own generator).
func (s *Signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if _, pss := opts.(*rsa.PSSOptions); pss {
		return s.goKey.Sign(rand, digest, opts)
	}
	h := opts.HashFunc()
	name, ok := digestNames[h]
	if !ok {
		return s.goKey.Sign(rand, digest, opts)
	}
	if len(digest) != h.Size() {
		return nil, fmt.Errorf("libcrypto: digest is %d bytes, want %d for %v", len(digest), h.Size(), h)
	}
	return s.pkey.sign(name, digest, s.goKey.Size())
}

// digestNames maps the hashes OpenSSL signs for us to its names for them
// (EVP_get_digestbyname).
var digestNames = map[crypto.Hash]string{
	crypto.SHA1:   "SHA1",
	crypto.SHA224: "SHA224",
	crypto.SHA256: "SHA256",
	crypto.SHA384: "SHA384",
	crypto.SHA512: "SHA512",
}

// New returns a Signer for k. The key is imported into libcrypto, and one
// SHA-256 signature is made by both and compared, so a Signer that would
// sign differently from Go is never returned.
func New(k *rsa.PrivateKey) (*Signer, error) {
	if _, err := load(); err != nil {
		return nil, err
	}
	p, err := importKey(k)
	if err != nil {
		return nil, err
	}
	s := &Signer{goKey: k, pkey: p}
	probe := make([]byte, crypto.SHA256.Size())
	for i := range probe {
		probe[i] = byte(i)
	}
	want, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, probe)
	if err != nil {
		return nil, fmt.Errorf("libcrypto: self-test: Go's signature: %w", err)
	}
	got, err := s.Sign(nil, probe, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("self-test: %w", err) // already says libcrypto
	}
	if string(got) != string(want) {
		return nil, errors.New("libcrypto: self-test: OpenSSL's signature differs from Go's")
	}
	return s, nil
}

// Choose returns the signer to use for s as the environment (Env) asks:
//
//   - "go": s itself;
//   - "openssl": a libcrypto Signer, made now; an error when libcrypto
//     cannot be used or s is not an RSA key;
//   - empty or "auto": for an RSA key, a signer that makes its first
//     autoAfter signatures with Go's RSA and then, where libcrypto loads
//     and passes New's checks, the rest with OpenSSL; otherwise Go's RSA
//     goes on (a missing library, an OpenSSL configuration that refuses
//     the key: the run still works, as it did before this backend).
//     Loading libcrypto and checking the key cost about 5 ms, five of
//     Go's RSA-2048 signatures: a run that makes a few (shim's two) is
//     faster without.
//
// Implementation tells afterwards which signed.
func Choose(s crypto.Signer) (crypto.Signer, error) {
	mode := os.Getenv(Env)
	switch mode {
	case "go":
		return s, nil
	case "", "auto", "openssl":
	default:
		return nil, fmt.Errorf("$%s is %q: want go, openssl or auto", Env, mode)
	}
	k, ok := s.(*rsa.PrivateKey)
	switch {
	case !ok && mode == "openssl":
		return nil, fmt.Errorf("$%s is openssl, but the key is %T: only RSA keys are signed by OpenSSL", Env, s)
	case !ok:
		return s, nil
	case mode == "openssl":
		fast, err := New(k)
		if err != nil {
			return nil, fmt.Errorf("$%s is openssl: %w", Env, err)
		}
		return fast, nil
	}
	a := &autoSigner{goKey: k}
	a.fast = sync.OnceValue(func() *Signer {
		fast, err := New(k)
		if err != nil {
			return nil // Go's RSA signs; Implementation says so
		}
		return fast
	})
	return a, nil
}

// autoAfter is how many signatures an automatic signer makes with Go's RSA
// before it loads libcrypto.
const autoAfter = 16

// Implementation names what signed with s, a signer from Choose: "openssl"
// when OpenSSL made any signature, else "go".
func Implementation(s crypto.Signer) string {
	switch s := s.(type) {
	case *Signer:
		return "openssl"
	case *autoSigner:
		if s.n.Load() > autoAfter && s.fast() != nil {
			return "openssl"
		}
	}
	return "go"
}

// autoSigner is Choose's signer for "auto".
type autoSigner struct {
	goKey *rsa.PrivateKey
	n     atomic.Int64   // Sign calls so far
	fast  func() *Signer // nil when libcrypto cannot be used
}

func (a *autoSigner) Public() crypto.PublicKey { return a.goKey.Public() }

func (a *autoSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if a.n.Add(1) > autoAfter {
		if fast := a.fast(); fast != nil {
			return fast.Sign(rand, digest, opts)
		}
	}
	return a.goKey.Sign(rand, digest, opts)
}
