package efi

// The Authenticode image digest, "Calculating the PE Image Hash" in the
// Authenticode PE specification (see the package documentation), as
// sbsign, sbverify and Debian's signed packages compute it.

import (
	"crypto/sha256"
	"hash"
)

// Digest parses b and returns its Authenticode SHA-256 digest.
func Digest(b []byte) ([]byte, error) {
	img, err := Parse(b)
	if err != nil {
		return nil, err
	}
	return img.Digest(), nil
}

// Digest returns the Authenticode SHA-256 digest of the image: the value a
// signature's SpcIndirectDataContent must hold. It does not depend on an
// existing certificate table, so a signed image and its unsigned original
// have the same digest.
func (img *Image) Digest() []byte {
	h := sha256.New()
	img.hash(h)
	return h.Sum(nil)
}

// hash writes the hashed bytes of the image to h, in the spec's order.
func (img *Image) hash(h hash.Hash) {
	b := img.data

	// Steps 1-7: the headers up to SizeOfHeaders, without the CheckSum
	// field and the certificate table entry.
	h.Write(b[:img.checksumOff])
	h.Write(b[img.checksumOff+4 : img.certDirOff])
	h.Write(b[img.certDirOff+dataDirEntrySize : img.sizeOfHeaders])
	hashed := img.sizeOfHeaders

	// Steps 8-13: the raw data of every section, in file order, with
	// SizeOfRawData as it is (not rounded to FileAlignment). Parse sorted
	// them and left out the empty ones.
	for _, s := range img.sections {
		h.Write(b[s.ptr : s.ptr+s.size])
		hashed += s.size
	}

	// Step 14: data after the sections ("end junk": debug data, symbols),
	// up to the certificate table. The spec measures it from the sum of
	// the sizes hashed so far, not from the end of the last section, and
	// so do the tools.
	end := int64(len(b)) - img.certSize
	if hashed < end {
		h.Write(b[hashed:end])
	}

	// sbsign and sbverify hash the image as if it were padded with zeros
	// to a multiple of 8 bytes, which is what sbattach writes before the
	// certificate table. Leaving this out gives a digest that no signed
	// Debian package has.
	if hashed < align8(end) {
		var zero [8]byte
		h.Write(zero[:align8(end)-max(hashed, end)])
	}
}

// align8 rounds n up to a multiple of 8.
func align8(n int64) int64 { return (n + 7) &^ 7 }
