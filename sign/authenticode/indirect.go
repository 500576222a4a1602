// Package authenticode makes and parses Authenticode signatures from an
// image digest alone: the SpcIndirectDataContent a signature carries, and
// the PKCS#7 SignedData around it. It knows nothing of PE images (package
// efi parses them, computes the digest and attaches the signature), so a
// signer that only ever sees digests can use it without a PE parser.
//
// Format: Windows Authenticode Portable Executable Signature Format
// (https://download.microsoft.com/download/9/c/5/9c5b2167-8017-4bae-9fde-d599bac8184a/Authenticode_PE.docx),
// "Authenticode-Specific Structures"; docs/formats.md §1.4.
package authenticode

// SpcIndirectDataContent, the content an Authenticode SignedData signs:
// "Authenticode-Specific Structures" in the Authenticode PE specification.
//
//	SpcIndirectDataContent ::= SEQUENCE {
//	    data          SpcAttributeTypeAndOptionalValue,
//	    messageDigest DigestInfo }
//	SpcAttributeTypeAndOptionalValue ::= SEQUENCE {
//	    type  ObjectID,                 -- SPC_PE_IMAGE_DATAOBJ
//	    value [0] EXPLICIT ANY OPTIONAL -- SpcPeImageData; no [0] in practice
//	}
//	SpcPeImageData ::= SEQUENCE {
//	    flags SpcPeImageFlags DEFAULT { includeResources }, -- BIT STRING
//	    file  [0] EXPLICIT SpcLink OPTIONAL }
//	SpcLink ::= CHOICE { url [0] IMPLICIT IA5String,
//	    moniker [1] IMPLICIT SpcSerializedObject, file [2] EXPLICIT SpcString }
//	SpcString ::= CHOICE { unicode [0] IMPLICIT BMPString, ascii [1] IMPLICIT IA5String }
//	DigestInfo ::= SEQUENCE { digestAlgorithm AlgorithmIdentifier, digest OCTET STRING }

import (
	"bytes"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/sign/pkcs7"
)

// Object identifiers of Authenticode.
var (
	// OIDSpcIndirectData is SPC_INDIRECT_DATA_OBJID, the content type of
	// an Authenticode SignedData.
	OIDSpcIndirectData = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 4}
	// OIDSpcPEImageData is SPC_PE_IMAGE_DATAOBJ, the type of the data
	// field for a PE image. Debian's current signatures and sbsign use it.
	OIDSpcPEImageData = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 15}
	// OIDSpcPEImageDataPesign is what pesign 0.112 and older write instead
	// (it is really SPC_INDIVIDUAL_SP_KEY_PURPOSE_OBJID); Debian's fwupd
	// signature from 2023 has it. Verification accepts both.
	OIDSpcPEImageDataPesign = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 21}
)

// MarshalIndirectData returns the DER SpcIndirectDataContent for a PE
// image with the given SHA-256 digest, in the layout of Debian's current
// signatures: SPC_PE_IMAGE_DATAOBJ, no flags, the file link an empty
// BMPString (a0 04 a2 02 80 00), and sha256 with NULL parameters.
func MarshalIndirectData(digest []byte) ([]byte, error) {
	var (
		explicit0 = cbasn1.Tag(0).ContextSpecific().Constructed()
		explicit2 = cbasn1.Tag(2).ContextSpecific().Constructed()
		implicit0 = cbasn1.Tag(0).ContextSpecific()
	)
	var b cryptobyte.Builder
	// SpcIndirectDataContent
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		// data SpcAttributeTypeAndOptionalValue
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(OIDSpcPEImageData)
			// value SpcPeImageData: no flags, file [0] EXPLICIT SpcLink
			// holding file [2] EXPLICIT SpcString holding
			// unicode [0] IMPLICIT BMPString "".
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1BitString(nil)
				b.AddASN1(explicit0, func(b *cryptobyte.Builder) {
					b.AddASN1(explicit2, func(b *cryptobyte.Builder) {
						b.AddASN1(implicit0, func(*cryptobyte.Builder) {})
					})
				})
			})
		})
		// messageDigest DigestInfo
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(pkcs7.OIDSHA256)
				b.AddASN1NULL()
			})
			b.AddASN1OctetString(digest)
		})
	})
	return b.Bytes()
}

// IndirectData is a parsed SpcIndirectDataContent.
type IndirectData struct {
	// DataType is the type of the data field: OIDSpcPEImageData or
	// OIDSpcPEImageDataPesign.
	DataType asn1.ObjectIdentifier
	Digest   []byte // DigestInfo.digest, the image digest
	// Contents is the contents octets of the SEQUENCE, without its tag
	// and length: the signed attribute messageDigest is SHA-256 of them.
	Contents []byte
}

// ParseIndirectData parses the DER of an SpcIndirectDataContent for a PE
// image hashed with SHA-256. SpcPeImageData is not interpreted: its flags
// and file link do not affect verification.
func ParseIndirectData(der []byte) (*IndirectData, error) {
	var id IndirectData
	s := cryptobyte.String(der)
	var idc, data, digestInfo, alg cryptobyte.String
	if !s.ReadASN1(&idc, cbasn1.SEQUENCE) || !s.Empty() {
		return nil, errors.New("not a DER SEQUENCE")
	}
	id.Contents = idc
	if !idc.ReadASN1(&data, cbasn1.SEQUENCE) || !data.ReadASN1ObjectIdentifier(&id.DataType) {
		return nil, errors.New("data: want SEQUENCE { OBJECT IDENTIFIER, ... }")
	}
	if !id.DataType.Equal(OIDSpcPEImageData) && !id.DataType.Equal(OIDSpcPEImageDataPesign) {
		return nil, fmt.Errorf("data: type %v is not a PE image (want %v or %v)", id.DataType, OIDSpcPEImageData, OIDSpcPEImageDataPesign)
	}
	if !idc.ReadASN1(&digestInfo, cbasn1.SEQUENCE) || !idc.Empty() {
		return nil, errors.New("messageDigest: want one DigestInfo SEQUENCE after data")
	}
	var oid asn1.ObjectIdentifier
	if !digestInfo.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return nil, errors.New("messageDigest: want digestAlgorithm SEQUENCE { OBJECT IDENTIFIER, ... }")
	}
	if !oid.Equal(pkcs7.OIDSHA256) {
		return nil, fmt.Errorf("messageDigest: digest algorithm %v is not sha256 (%v)", oid, pkcs7.OIDSHA256)
	}
	var null cryptobyte.String
	if !alg.Empty() && (!alg.ReadASN1(&null, cbasn1.NULL) || !null.Empty() || !alg.Empty()) {
		return nil, errors.New("messageDigest: sha256 parameters are not NULL")
	}
	var digest cryptobyte.String
	if !digestInfo.ReadASN1(&digest, cbasn1.OCTET_STRING) || !digestInfo.Empty() {
		return nil, errors.New("messageDigest: want one OCTET STRING digest after the algorithm")
	}
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("messageDigest: digest is %d bytes, want %d (sha256)", len(digest), sha256.Size)
	}
	id.Digest = bytes.Clone(digest)
	return &id, nil
}

// ParseSignature parses a DER Authenticode signature and its content. It
// checks the structure only, not the signature (efi.Verify does that
// against an image).
func ParseSignature(sig []byte) (*pkcs7.SignedData, *IndirectData, error) {
	sd, err := pkcs7.Parse(sig)
	if err != nil {
		return nil, nil, err
	}
	if !sd.ContentType.Equal(OIDSpcIndirectData) {
		return nil, nil, inputerr.Errorf("content type %v is not SPC_INDIRECT_DATA (%v)", sd.ContentType, OIDSpcIndirectData)
	}
	id, err := ParseIndirectData(sd.Content)
	if err != nil {
		return nil, nil, &inputerr.Error{Offset: inputerr.NoOffset, Field: "SpcIndirectDataContent", Err: err}
	}
	return sd, id, nil
}

// SignedDigest returns the image digest inside sig, a DER Authenticode
// signature (the DigestInfo of its SpcIndirectDataContent). It accepts
// both SPC_PE_IMAGE_DATAOBJ (…311.2.1.15) and old pesign's …311.2.1.21,
// and SHA-256 only. It does not check the signature itself; efi.Verify does.
func SignedDigest(sig []byte) ([]byte, error) {
	_, id, err := ParseSignature(sig)
	if err != nil {
		return nil, err
	}
	return id.Digest, nil
}
