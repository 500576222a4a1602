// Package pkcs7 builds and parses the PKCS#7 SignedData that Secure Boot
// signatures are made of: Authenticode signatures on EFI binaries and Linux
// module signatures.
//
// Specifications: RFC 2315 (PKCS #7 v1.5) and RFC 5652 (CMS), which
// describes the same DER for the parts used here. The layouts written are
// those of Debian's signing service (pesign, for EFI) and of Linux's
// scripts/sign-file.c (for modules); see docs/formats.md §1.4 and §2.2.
//
// Only SHA-256 is supported, with RSA (PKCS #1 v1.5) or ECDSA keys.
package pkcs7

import (
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"time"
)

// Object identifiers used in SignedData.
var (
	OIDData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	OIDSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

	OIDSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}

	OIDRSAEncryption           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	OIDSHA256WithRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	OIDECPublicKey             = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	OIDECDSAWithSHA256         = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}

	// Attribute types (PKCS #9, RFC 2985 and RFC 8551).
	OIDAttributeContentType       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	OIDAttributeMessageDigest     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	OIDAttributeSigningTime       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	OIDAttributeSMIMECapabilities = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 15}
)

// Attributes selects the signed (authenticated) attributes. The set written
// is contentType, signingTime (only when SigningTime is non-nil),
// messageDigest, and SMIMECapabilities = SET{SEQ{}} (only when
// EmptySMIMECapabilities), in DER SET order (sorted by encoding): the layout
// of pesign and of Debian's published EFI signatures.
type Attributes struct {
	// SigningTime is written as UTCTime for the years 1950 to 2049 and as
	// GeneralizedTime otherwise (RFC 5652 §11.3), in UTC, to the second.
	SigningTime            *time.Time
	EmptySMIMECapabilities bool
}

// SignOptions says what Sign puts in the SignedData.
type SignOptions struct {
	// ContentType is the encapsulated content type: OIDData for modules,
	// SPC_INDIRECT_DATA (1.3.6.1.4.1.311.2.1.4) for Authenticode.
	ContentType asn1.ObjectIdentifier
	// Content is the complete DER of the content, embedded as
	// ContentInfo.content [0] EXPLICIT. Nil means detached (no content).
	Content []byte
	// Digest is the SHA-256 of the signed data. With Attributes it goes in
	// messageDigest; without, the signature is over it directly.
	Digest []byte
	// Attributes selects the signed attributes; nil means none (module
	// signatures).
	Attributes *Attributes
	// IncludeCertificate puts the signer's certificate in certificates [0].
	IncludeCertificate bool
	// DigestNullParams writes the sha256 AlgorithmIdentifier with NULL
	// parameters (Authenticode does; sign-file does not).
	DigestNullParams bool
	// SubjectKeyID identifies the signer by [0] IMPLICIT
	// SubjectKeyIdentifier, with SignedData and SignerInfo version 3
	// (sign-file -k). The default is issuerAndSerialNumber and version 1.
	SubjectKeyID bool
}

// SignedData is a parsed ContentInfo holding SignedData (RFC 5652 §5.1).
// Its byte slices are copies and do not alias the input of Parse.
type SignedData struct {
	Raw              []byte // the ContentInfo, without any trailing zero bytes
	Version          int
	DigestAlgorithms []asn1.ObjectIdentifier
	ContentType      asn1.ObjectIdentifier // encapContentInfo.eContentType
	// Content is the complete DER of the embedded content (what was inside
	// [0] EXPLICIT), nil when the signature is detached.
	Content      []byte
	Certificates []*x509.Certificate
	Signers      []SignerInfo
}

// SignerInfo is one signer of a SignedData (RFC 5652 §5.3).
type SignerInfo struct {
	Version         int
	Issuer          []byte   // raw DER Name; nil when sid is a SubjectKeyIdentifier
	SerialNumber    *big.Int // nil when sid is a SubjectKeyIdentifier
	SubjectKeyID    []byte   // nil unless sid is a SubjectKeyIdentifier
	DigestAlgorithm asn1.ObjectIdentifier
	// RawSignedAttrs is the signed attribute SET encoded with tag 0x31
	// (what the signature covers), nil when there are none.
	RawSignedAttrs     []byte
	ContentType        asn1.ObjectIdentifier // from the signed attributes, if present
	MessageDigest      []byte                // from the signed attributes, if present
	SigningTime        *time.Time            // from the signed attributes, if present
	SignatureAlgorithm asn1.ObjectIdentifier
	Signature          []byte
}
