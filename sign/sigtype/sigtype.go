// Package sigtype is the registry of signature types, files.json's
// sig_type (docs/formats.md §4.2): for each, its name, the digest it signs
// and how a signature is made from that digest alone. Everything that
// names the types (template, the CLI, sigreq, the signing host) asks
// here instead of keeping a list of its own.
//
// Making a signature from a digest needs no parser of the signed file, so
// this package imports none: computing the digest and attaching the
// signature stay in sign/efi and sign/kmod's Digest and Attach.
package sigtype

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/mksigned/mksigned/sign"
	"github.com/mksigned/mksigned/sign/authenticode"
	"github.com/mksigned/mksigned/sign/kmod"
)

// Type is one signature type.
type Type struct {
	Name sign.SigType
	// DigestAlgorithm names the hash of the digest that is signed, as a
	// signing request spells it ("sha256"), and DigestSize is its length
	// in bytes.
	DigestAlgorithm string
	DigestSize      int
	// sign makes a detached signature over a digest of DigestSize bytes.
	sign func(signer crypto.Signer, cert *x509.Certificate, digest []byte, when time.Time) ([]byte, error)
}

// types is the registry, sorted by name.
var types = []*Type{
	{
		// Authenticode over a PE/COFF image: the digest is the image's
		// Authenticode SHA-256 (docs/formats.md §1.2).
		Name: sign.EFI, DigestAlgorithm: "sha256", DigestSize: sha256.Size,
		sign: authenticode.Sign,
	},
	{
		// PKCS#7 appended to a kernel module: the digest is SHA-256 of
		// the unsigned module (docs/formats.md §2.2). No signing time:
		// the kernel refuses signed attributes.
		Name: sign.LinuxModule, DigestAlgorithm: "sha256", DigestSize: sha256.Size,
		sign: func(signer crypto.Signer, cert *x509.Certificate, digest []byte, _ time.Time) ([]byte, error) {
			return kmod.Sign(signer, cert, digest)
		},
	},
}

// Lookup returns the type named name.
func Lookup(name string) (*Type, bool) {
	for _, t := range types {
		if string(t.Name) == name {
			return t, true
		}
	}
	return nil, false
}

// Names returns the names of every type, sorted.
func Names() []string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = string(t.Name)
	}
	return names
}

// UnknownError is a sig_type that is not in the registry.
type UnknownError struct{ Name string }

func (e *UnknownError) Error() string {
	quoted := make([]string, len(types))
	for i, t := range types {
		quoted[i] = fmt.Sprintf("%q", t.Name)
	}
	return fmt.Sprintf("unknown sig_type %q (known: %s)", e.Name, strings.Join(quoted, ", "))
}

// Get is Lookup with an *UnknownError, which lists the known types, for
// a name it does not know.
func Get(name string) (*Type, error) {
	if t, ok := Lookup(name); ok {
		return t, nil
	}
	return nil, &UnknownError{Name: name}
}

// Sign returns the detached signature over digest that `mksigned generate`
// puts in the source package for a file of this type: for efi, the
// Authenticode signature with signingTime when (see authenticode.Sign);
// for linux-module, what `sign-file -d` writes, and when is not used. It
// only calls signer.Sign, so the key may live in an HSM.
func (t *Type) Sign(signer crypto.Signer, cert *x509.Certificate, digest []byte, when time.Time) ([]byte, error) {
	if len(digest) != t.DigestSize {
		return nil, fmt.Errorf("%s: digest is %d bytes, want %d (%s)", t.Name, len(digest), t.DigestSize, t.DigestAlgorithm)
	}
	return t.sign(signer, cert, digest, when)
}
