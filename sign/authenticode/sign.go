package authenticode

// Signing: an Authenticode PKCS#7 SignedData over an image digest, in the
// layout of Debian's current EFI signatures (docs/formats.md §1.4).

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/mksigned/mksigned/sign/pkcs7"
)

// Sign returns a detached DER Authenticode signature over digest, the
// Authenticode SHA-256 of an image (efi.Digest), for efi.Attach. It only
// calls signer.Sign, so the key may live in an HSM.
//
// The layout is that of Debian's current signatures, made by pesign:
// SignedData v1 with content SPC_INDIRECT_DATA, the data type
// SPC_PE_IMAGE_DATAOBJ with an empty file link, sha256 with NULL
// parameters, cert as the only certificate, one signer identified by
// issuer and serial number, and the signed attributes contentType,
// signingTime, messageDigest and an empty SMIMECapabilities.
//
// signingTime goes into the signingTime attribute, to the second, in UTC;
// pass a time derived from SOURCE_DATE_EPOCH or the changelog, so that the
// same inputs give the same bytes. The zero Time leaves the attribute out.
func Sign(signer crypto.Signer, cert *x509.Certificate, digest []byte, signingTime time.Time) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("image digest is %d bytes, want %d (sha256)", len(digest), sha256.Size)
	}
	content, err := MarshalIndirectData(digest)
	if err != nil {
		return nil, fmt.Errorf("encoding SpcIndirectDataContent: %w", err)
	}
	id, err := ParseIndirectData(content)
	if err != nil {
		return nil, fmt.Errorf("encoding SpcIndirectDataContent: %w", err)
	}
	// messageDigest covers the contents octets of SpcIndirectDataContent,
	// without its tag and length (Authenticode PE specification).
	md := sha256.Sum256(id.Contents)
	attrs := &pkcs7.Attributes{EmptySMIMECapabilities: true}
	if !signingTime.IsZero() {
		t := signingTime.UTC().Truncate(time.Second)
		attrs.SigningTime = &t
	}
	return pkcs7.Sign(signer, cert, pkcs7.SignOptions{
		ContentType:        OIDSpcIndirectData,
		Content:            content,
		Digest:             md[:],
		Attributes:         attrs,
		IncludeCertificate: true,
		DigestNullParams:   true,
	})
}
