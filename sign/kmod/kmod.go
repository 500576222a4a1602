// Package kmod makes and checks Linux module signatures: a detached PKCS#7
// SignedData appended to the module, then a struct module_signature and a
// magic string.
//
// References: scripts/sign-file.c (what is written), include/linux/
// module_signature.h and kernel/module_signature.c (what the kernel
// checks), crypto/asymmetric_keys/pkcs7_verify.c; docs/formats.md §2.
//
// Signing is in separate steps, so that a signer that only sees digests
// fits: Digest, then Sign, then Attach. Detach undoes Attach.
package kmod

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/sign/pkcs7"
)

// Magic ends every signed module (MODULE_SIG_STRING plus a newline).
const Magic = "~Module signature appended~\n"

// Sizes of the trailer that follows the PKCS#7 signature.
const (
	// SignatureInfoSize is the size of struct module_signature: algo,
	// hash, id_type, signer_len, key_id_len (one byte each), __pad[3] and
	// sig_len (u32, big-endian).
	SignatureInfoSize = 12
	// TrailerSize is what a signed module carries after the signature.
	TrailerSize = SignatureInfoSize + len(Magic)
)

// idPKCS7 is PKEY_ID_PKCS7, the only id_type the kernel accepts.
const idPKCS7 = 2

// Errors a caller may act on.
var (
	// ErrSigned means a module already carries a signature. sign-file would
	// append a second one, which the kernel does not read; strip the old
	// one first (Strip).
	ErrSigned = errors.New("module already carries a signature (strip it first)")
	// ErrNotSigned means the module does not end with Magic.
	ErrNotSigned = errors.New("module is not signed: no \"~Module signature appended~\" magic at its end")
)

// IsSigned reports whether b ends with Magic.
func IsSigned(b []byte) bool {
	return len(b) >= len(Magic) && string(b[len(b)-len(Magic):]) == Magic
}

// Digest returns the SHA-256 of the whole unsigned module, which is what a
// module signature signs. It refuses a module that is already signed
// (ErrSigned).
func Digest(module []byte) ([]byte, error) {
	if IsSigned(module) {
		return nil, fmt.Errorf("digest: %w", ErrSigned)
	}
	h := sha256.Sum256(module)
	return h[:], nil
}

// Digester computes Digest over a module written to it in pieces, so that
// a module read from a package stream is hashed as it arrives and never
// held whole. It keeps the first HeadSize and the last len(Magic) bytes,
// which is all a caller needs to check the module's kind and whether it
// is signed.
type Digester struct {
	h    hash.Hash
	n    int64
	head [HeadSize]byte
	tail [len(Magic)]byte // the last min(n, len(Magic)) bytes, at the end
}

// HeadSize is how much of the start of a module a Digester keeps: an ELF
// header (64 bytes for ELF64).
const HeadSize = 64

// NewDigester returns a Digester for one module.
func NewDigester() *Digester { return &Digester{h: sha256.New()} }

// Write hashes p; it never fails.
func (d *Digester) Write(p []byte) (int, error) {
	if d.n < HeadSize {
		copy(d.head[d.n:], p)
	}
	if len(p) >= len(d.tail) {
		copy(d.tail[:], p[len(p)-len(d.tail):])
	} else {
		copy(d.tail[:], d.tail[len(p):])
		copy(d.tail[len(d.tail)-len(p):], p)
	}
	d.n += int64(len(p))
	return d.h.Write(p)
}

// Head returns the module's first bytes, up to HeadSize.
func (d *Digester) Head() []byte { return d.head[:min(d.n, HeadSize)] }

// Digest returns what Digest returns for the whole module written so far.
func (d *Digester) Digest() ([]byte, error) {
	if d.n >= int64(len(Magic)) && string(d.tail[:]) == Magic {
		return nil, fmt.Errorf("digest: %w", ErrSigned)
	}
	return d.h.Sum(nil), nil
}

// SignOptions selects variants of the signature sign-file can make.
type SignOptions struct {
	// SubjectKeyID identifies the signer by its certificate's subject key
	// identifier, as sign-file -k does, instead of issuer and serial.
	SubjectKeyID bool
}

// Sign returns the detached PKCS#7 that `sign-file -d sha256 key cert
// module` writes for this key and certificate, given the module's digest:
// content type data with no content, no certificates and no signed
// attributes (the kernel rejects modules with them).
func Sign(signer crypto.Signer, cert *x509.Certificate, digest []byte) ([]byte, error) {
	return SignWithOptions(signer, cert, digest, SignOptions{})
}

// SignWithOptions is Sign with options.
func SignWithOptions(signer crypto.Signer, cert *x509.Certificate, digest []byte, opts SignOptions) ([]byte, error) {
	sig, err := pkcs7.Sign(signer, cert, pkcs7.SignOptions{
		ContentType:  pkcs7.OIDData,
		Digest:       digest,
		SubjectKeyID: opts.SubjectKeyID,
	})
	if err != nil {
		return nil, fmt.Errorf("module signature: %w", err)
	}
	return sig, nil
}

// Attach returns module ‖ sig ‖ struct module_signature ‖ Magic, byte for
// byte what sign-file writes. It refuses a module that is already signed
// (ErrSigned): the kernel reads only the last signature.
func Attach(module, sig []byte) ([]byte, error) {
	if IsSigned(module) {
		return nil, fmt.Errorf("attach: %w", ErrSigned)
	}
	if len(sig) == 0 {
		return nil, errors.New("attach: empty signature")
	}
	if uint64(len(sig)) > math.MaxUint32 {
		return nil, fmt.Errorf("attach: signature of %d bytes does not fit sig_len", len(sig))
	}
	out := make([]byte, 0, len(module)+len(sig)+TrailerSize)
	out = append(out, module...)
	out = append(out, sig...)
	var info [SignatureInfoSize]byte
	info[2] = idPKCS7
	binary.BigEndian.PutUint32(info[8:], uint32(len(sig)))
	out = append(out, info[:]...)
	return append(out, Magic...), nil
}

// Detach splits a signed module into the unsigned module and its PKCS#7
// signature, checking the trailer as the kernel's mod_check_sig does:
// id_type must be PKEY_ID_PKCS7, algo, hash, signer_len, key_id_len and the
// padding must be zero, and sig_len must leave at least one byte of module.
// The results are subslices of signed.
func Detach(signed []byte) (module, sig []byte, err error) {
	if !IsSigned(signed) {
		return nil, nil, fmt.Errorf("detach: %w", ErrNotSigned)
	}
	if len(signed) < TrailerSize {
		return nil, nil, &inputerr.Error{Offset: 0, Err: fmt.Errorf("module signature trailer: module of %d bytes is too short for struct module_signature", len(signed))}
	}
	at := len(signed) - TrailerSize
	info := signed[at : at+SignatureInfoSize]
	fieldErr := func(off int, field, format string, args ...any) error {
		return &inputerr.Error{Offset: int64(at + off), Field: "module_signature." + field, Err: fmt.Errorf("module signature trailer: "+format, args...)}
	}
	if info[2] != idPKCS7 {
		return nil, nil, fieldErr(2, "id_type", "id_type is %d, want %d (PKEY_ID_PKCS7)", info[2], idPKCS7)
	}
	for i, name := range []string{"algo", "hash", "", "signer_len", "key_id_len", "__pad[0]", "__pad[1]", "__pad[2]"} {
		if name != "" && info[i] != 0 {
			return nil, nil, fieldErr(i, name, "%s is %d, want 0", name, info[i])
		}
	}
	sigLen := binary.BigEndian.Uint32(info[8:])
	if sigLen == 0 {
		return nil, nil, fieldErr(8, "sig_len", "sig_len is 0")
	}
	if uint64(sigLen) >= uint64(at) {
		return nil, nil, fieldErr(8, "sig_len", "sig_len %d does not fit in the %d bytes before struct module_signature", sigLen, at)
	}
	start := at - int(sigLen)
	return signed[:start], signed[start:at], nil
}

// Strip returns the module without its signature (a subslice of signed).
func Strip(signed []byte) ([]byte, error) {
	module, _, err := Detach(signed)
	return module, err
}

// Verify checks that sig (a detached PKCS#7) is a valid module signature
// over module, as the kernel would for a module: content type data, no
// embedded content, at least one signer and no signed attributes
// ("has authattrs" in the kernel). When cert is not nil, a signer must match
// cert and its signature must verify over the module's SHA-256. With cert
// nil, only the structure is checked: a module signature carries no
// certificate, so nothing else can be.
func Verify(module, sig []byte, cert *x509.Certificate) error {
	sd, err := parseModuleSignature(sig)
	if err != nil {
		return err
	}
	if cert == nil {
		return nil
	}
	digest, err := Digest(module)
	if err != nil {
		return fmt.Errorf("module signature: %w", err)
	}
	return verifySigners(sd, digest, cert)
}

// parseModuleSignature parses sig and checks its structure as the kernel
// does.
func parseModuleSignature(sig []byte) (*pkcs7.SignedData, error) {
	sd, err := pkcs7.Parse(sig)
	if err != nil {
		return nil, fmt.Errorf("module signature: %w", err)
	}
	if !sd.ContentType.Equal(pkcs7.OIDData) {
		return nil, fmt.Errorf("module signature: content type is %v, want data (%v)", sd.ContentType, pkcs7.OIDData)
	}
	if sd.Content != nil {
		return nil, errors.New("module signature: embeds its content, want detached")
	}
	if len(sd.Signers) == 0 {
		return nil, errors.New("module signature: no signers")
	}
	for i := range sd.Signers {
		if sd.Signers[i].RawSignedAttrs != nil {
			return nil, fmt.Errorf("module signature: signer %d has signed attributes, which the kernel rejects", i)
		}
	}
	return sd, nil
}

// VerifyDigest is Verify for a module known by its Digest: it checks sig
// as Verify does, against cert, which must not be nil.
func VerifyDigest(digest, sig []byte, cert *x509.Certificate) error {
	if cert == nil {
		return errors.New("module signature: no certificate to check it against")
	}
	sd, err := parseModuleSignature(sig)
	if err != nil {
		return err
	}
	return verifySigners(sd, digest, cert)
}

func verifySigners(sd *pkcs7.SignedData, digest []byte, cert *x509.Certificate) error {
	var first error
	for i := range sd.Signers {
		err := sd.Signers[i].Verify(cert, digest)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return fmt.Errorf("module signature: %w", first)
}
