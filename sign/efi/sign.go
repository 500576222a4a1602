package efi

// Signing and reading signatures: package authenticode does both from a
// digest alone; these are its functions under the names efi's callers use.

import (
	"crypto"
	"crypto/x509"
	"time"

	"github.com/mksigned/mksigned/sign/authenticode"
)

// Object identifiers of Authenticode (see package authenticode).
var (
	OIDSpcIndirectData      = authenticode.OIDSpcIndirectData
	OIDSpcPEImageData       = authenticode.OIDSpcPEImageData
	OIDSpcPEImageDataPesign = authenticode.OIDSpcPEImageDataPesign
)

// Sign returns a detached DER Authenticode signature over digest, the
// Authenticode SHA-256 of an image (see Image.Digest), for Attach. It is
// authenticode.Sign, which documents the layout and signingTime.
func Sign(signer crypto.Signer, cert *x509.Certificate, digest []byte, signingTime time.Time) ([]byte, error) {
	return authenticode.Sign(signer, cert, digest, signingTime)
}

// SignedDigest returns the image digest inside sig, a DER Authenticode
// signature; see authenticode.SignedDigest. It does not check the
// signature itself; Verify does.
func SignedDigest(sig []byte) ([]byte, error) { return authenticode.SignedDigest(sig) }
