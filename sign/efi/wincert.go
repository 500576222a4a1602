package efi

// The attribute certificate table: "Attribute Certificate Table (Image
// Only)" in the PE Format specification and "Authenticode-Specific
// Structures" in the Authenticode PE specification. Attach, Detach and
// Remove produce the same bytes as sbattach --attach, --detach and
// --remove (sbsigntool 0.9.4).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// ErrNotSigned means the image has no certificate table, or not the
// signature asked for.
var ErrNotSigned = errors.New("image has no signature")

// WIN_CERTIFICATE header values.
const (
	winCertHeaderSize = 8 // dwLength, wRevision, wCertificateType

	// WinCertRevision2 is wRevision WIN_CERT_REVISION_2_0, the only
	// revision in use.
	WinCertRevision2 = 0x0200
	// WinCertTypePKCSSignedData is wCertificateType
	// WIN_CERT_TYPE_PKCS_SIGNED_DATA: bCertificate is an Authenticode
	// PKCS#7 SignedData.
	WinCertTypePKCSSignedData = 0x0002
)

// WinCertificate is one entry of the certificate table, a WIN_CERTIFICATE.
type WinCertificate struct {
	Offset   int64  // file offset of the entry
	Length   uint32 // dwLength: the 8-byte header and Data, without padding
	Revision uint16 // wRevision
	Type     uint16 // wCertificateType
	// Data is bCertificate, Length-8 bytes. It aliases the image.
	Data []byte
}

// Signatures parses b and returns the entries of its certificate table,
// none if it is unsigned.
func Signatures(b []byte) ([]WinCertificate, error) {
	img, err := Parse(b)
	if err != nil {
		return nil, err
	}
	return img.Signatures()
}

// Signatures returns the entries of the image's certificate table, none
// if it is unsigned. Each entry starts at a multiple of 8 bytes from the
// start of the table; the table must hold nothing else.
func (img *Image) Signatures() ([]WinCertificate, error) {
	var certs []WinCertificate
	end := img.certOff + img.certSize
	for off := img.certOff; off < end; {
		if end-off < winCertHeaderSize {
			return nil, &inputerr.Error{Offset: off, Field: "WIN_CERTIFICATE",
				Err: fmt.Errorf("%d bytes left in the certificate table, less than a header", end-off)}
		}
		c := WinCertificate{
			Offset:   off,
			Length:   le32(img.data, off),
			Revision: le16(img.data, off+4),
			Type:     le16(img.data, off+6),
		}
		n := int64(c.Length)
		if n < winCertHeaderSize || n > end-off {
			return nil, &inputerr.Error{Offset: off, Field: "WIN_CERTIFICATE.dwLength",
				Err: fmt.Errorf("%d is outside [%d, %d] (header size, bytes left in the certificate table)", n, winCertHeaderSize, end-off)}
		}
		c.Data = img.data[off+winCertHeaderSize : off+n]
		certs = append(certs, c)
		off += align8(n)
	}
	return certs, nil
}

// Attach returns image with sig, a DER Authenticode signature, added to
// its certificate table, exactly as sbattach --attach writes it: the image
// padded with zeros to a multiple of 8 bytes, a WIN_CERTIFICATE whose
// dwLength counts the header and sig but not the padding, zero padding to
// 8 bytes counted in the table size, and a recomputed PE checksum. If
// image is already signed, the new entry goes after the existing ones.
//
// Unlike sbattach, Attach first checks that the digest inside sig is the
// digest of image, and returns a *DigestMismatchError if not. image is not
// modified.
func Attach(image, sig []byte) ([]byte, error) {
	img, err := Parse(image)
	if err != nil {
		return nil, err
	}
	signed, err := SignedDigest(sig)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	if err := checkDigest(signed, img.Digest()); err != nil {
		return nil, err
	}
	return img.attach(sig)
}

// attach adds sig to the certificate table as Attach does, without
// looking inside sig.
func (img *Image) attach(sig []byte) ([]byte, error) {
	image := img.data
	tableOff, tableSize := img.certOff, img.certSize
	if !img.Signed() {
		tableOff = align8(int64(len(image)))
	}
	entryLen := winCertHeaderSize + int64(len(sig))
	newSize := tableSize + align8(entryLen)
	if newSize > math.MaxUint32 || tableOff > math.MaxUint32 {
		return nil, fmt.Errorf("certificate table of %d bytes at %#x does not fit the 32-bit data directory", newSize, tableOff)
	}

	out := make([]byte, tableOff+newSize)
	copy(out, image)
	e := tableOff + tableSize
	binary.LittleEndian.PutUint32(out[e:], uint32(entryLen))
	binary.LittleEndian.PutUint16(out[e+4:], WinCertRevision2)
	binary.LittleEndian.PutUint16(out[e+6:], WinCertTypePKCSSignedData)
	copy(out[e+winCertHeaderSize:], sig)

	binary.LittleEndian.PutUint32(out[img.certDirOff:], uint32(tableOff))
	binary.LittleEndian.PutUint32(out[img.certDirOff+4:], uint32(newSize))
	binary.LittleEndian.PutUint32(out[img.checksumOff:], peChecksum(out, img.checksumOff))
	return out, nil
}

// Detach returns a copy of signature number index (counting from 0) in
// signed's certificate table: the DER that sbattach --detach writes with
// --signum index+1. It returns an error matching ErrNotSigned if there is
// no such signature.
func Detach(signed []byte, index int) ([]byte, error) {
	certs, err := Signatures(signed)
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= len(certs) {
		return nil, fmt.Errorf("signature %d: %w (it has %d)", index, ErrNotSigned, len(certs))
	}
	return append([]byte(nil), certs[index].Data...), nil
}

// Remove returns signed without signature number index (counting from 0),
// as sbattach --remove writes it with --signum index+1: the later entries
// move up, the table shrinks, and the checksum is recomputed. Removing the
// last signature leaves the image padded to 8 bytes with an empty
// certificate table entry; the original file's trailing padding and
// checksum are not restored. It returns an error matching ErrNotSigned if
// there is no such signature. signed is not modified.
func Remove(signed []byte, index int) ([]byte, error) {
	img, err := Parse(signed)
	if err != nil {
		return nil, err
	}
	certs, err := img.Signatures()
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= len(certs) {
		return nil, fmt.Errorf("signature %d: %w (it has %d)", index, ErrNotSigned, len(certs))
	}
	c := certs[index]
	// The last entry's padding may be missing if another tool wrote it.
	cut := min(c.Offset+align8(int64(c.Length)), int64(len(signed)))
	out := make([]byte, 0, len(signed))
	out = append(out, signed[:c.Offset]...)
	out = append(out, signed[cut:]...)

	tableSize := img.certSize - (cut - c.Offset)
	if len(certs) == 1 {
		out = out[:img.certOff]
		binary.LittleEndian.PutUint32(out[img.certDirOff:], 0)
		binary.LittleEndian.PutUint32(out[img.certDirOff+4:], 0)
	} else {
		binary.LittleEndian.PutUint32(out[img.certDirOff+4:], uint32(tableSize))
	}
	binary.LittleEndian.PutUint32(out[img.checksumOff:], peChecksum(out, img.checksumOff))
	return out, nil
}
