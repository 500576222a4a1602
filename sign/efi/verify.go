package efi

// Verification of an Authenticode signature against an image, as sbverify
// does it, minus the certificate chain: one level (signer or its issuer)
// is enough for mksigned's checks.

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/mksigned/mksigned/sign/authenticode"
)

// DigestMismatchError means a signature was made for another image: the
// digest inside it is not the digest of the image.
type DigestMismatchError struct {
	Signed []byte // the digest in the signature's SpcIndirectDataContent
	Image  []byte // the Authenticode digest of the image
}

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("signature is for another image: signed digest %x, image digest %x", e.Signed, e.Image)
}

// checkDigest returns a *DigestMismatchError unless signed equals image.
func checkDigest(signed, image []byte) error {
	if !bytes.Equal(signed, image) {
		return &DigestMismatchError{Signed: bytes.Clone(signed), Image: bytes.Clone(image)}
	}
	return nil
}

// Verify checks that sig, a DER Authenticode signature, is a valid
// signature of image (which may carry signatures of its own; they are not
// part of the digest). It checks that
//   - the digest in the signature equals the image digest (else a
//     *DigestMismatchError showing both),
//   - there is exactly one signer, and its contentType and messageDigest
//     attributes match SpcIndirectDataContent,
//   - the signature verifies with cert's key. cert may be the signer's
//     certificate or the certificate that issued it, as sbverify --cert
//     accepts either; in the second case the signer's certificate must be
//     in sig. If cert is nil, the signer's certificate in sig is used,
//     which shows the signature is intact but not who made it.
func Verify(image, sig []byte, cert *x509.Certificate) error {
	img, err := Parse(image)
	if err != nil {
		return err
	}
	sd, id, err := authenticode.ParseSignature(sig)
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	if err := checkDigest(id.Digest, img.Digest()); err != nil {
		return err
	}
	if len(sd.Signers) != 1 {
		return fmt.Errorf("signature has %d signers, want 1", len(sd.Signers))
	}
	si := &sd.Signers[0]
	if si.RawSignedAttrs == nil {
		return errors.New("signer has no signed attributes")
	}
	if !si.ContentType.Equal(OIDSpcIndirectData) {
		return fmt.Errorf("signed contentType attribute %v is not SPC_INDIRECT_DATA (%v)", si.ContentType, OIDSpcIndirectData)
	}

	embedded := sd.SignerCertificate(si)
	key := cert
	switch {
	case cert == nil:
		if embedded == nil {
			return errors.New("signer certificate is not in the signature")
		}
		key = embedded
	case embedded != nil && !bytes.Equal(embedded.Raw, cert.Raw) && bytes.Equal(embedded.RawIssuer, cert.RawSubject):
		if err := embedded.CheckSignatureFrom(cert); err != nil {
			return fmt.Errorf("signer certificate %q is not issued by %q: %w", embedded.Subject, cert.Subject, err)
		}
		key = embedded
	}
	md := sha256.Sum256(id.Contents)
	if err := si.Verify(key, md[:]); err != nil {
		return fmt.Errorf("signer %q: %w", key.Subject, err)
	}
	return nil
}
