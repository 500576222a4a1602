package efi

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// FuzzVerify feeds arbitrary signature bytes, as read from --signatures
// or a source package's debian/signatures, to SignedDigest, Verify and
// Attach with a real unsigned image. Seeds are Debian's real signatures.
func FuzzVerify(f *testing.F) {
	image := fixture(f, pairs[0].unsignedDeb, pairs[0].unsignedPath)
	img, err := Parse(image)
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range pairs {
		signed, err := Parse(fixture(f, p.signedDeb, p.signedPath))
		if err != nil {
			f.Fatal(err)
		}
		certs, err := signed.Signatures()
		if err != nil {
			f.Fatal(err)
		}
		for _, c := range certs {
			f.Add(c.Data)
		}
	}
	f.Add([]byte{0x30, 0x80})
	f.Fuzz(func(t *testing.T, sig []byte) {
		digest, err := SignedDigest(sig)
		if err != nil {
			var ie *inputerr.Error
			if !errors.As(err, &ie) {
				t.Fatalf("SignedDigest error %q (%T) is not an *inputerr.Error", err, err)
			}
		}
		verr := Verify(image, sig, nil)
		if verr == nil && !bytes.Equal(digest, img.Digest()) {
			t.Fatalf("Verify accepted a signature over digest %x for an image with digest %x", digest, img.Digest())
		}
		attached, aerr := Attach(image, sig)
		if aerr == nil {
			if !bytes.Equal(digest, img.Digest()) {
				t.Fatalf("Attach accepted a signature over digest %x for an image with digest %x", digest, img.Digest())
			}
			if _, err := Parse(attached); err != nil {
				t.Fatalf("Parse after Attach: %v", err)
			}
		}
	})
}
