package pkcs7

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Context-specific tags used in SignedData.
var (
	tagExplicit0 = cbasn1.Tag(0).Constructed().ContextSpecific() // content [0] EXPLICIT, certificates and signedAttrs [0] IMPLICIT
	tagImplicit1 = cbasn1.Tag(1).Constructed().ContextSpecific() // crls and unsignedAttrs [1] IMPLICIT
	tagSKID      = cbasn1.Tag(0).ContextSpecific()               // sid subjectKeyIdentifier [0] IMPLICIT OCTET STRING
)

// Sign returns the DER ContentInfo holding a SignedData with one signer:
// the holder of signer, identified by cert. It only calls
// signer.Sign(rand.Reader, digest, crypto.SHA256), so any crypto.Signer
// (a key in memory or on an HSM) works.
//
// The layout follows RFC 5652 §5: version, digestAlgorithms,
// encapContentInfo, certificates, signerInfos; crls and unsigned attributes
// are never written.
func Sign(signer crypto.Signer, cert *x509.Certificate, opts SignOptions) ([]byte, error) {
	if signer == nil {
		return nil, errors.New("pkcs7: no signer")
	}
	if cert == nil {
		return nil, errors.New("pkcs7: no certificate")
	}
	if len(opts.Digest) != sha256.Size {
		return nil, fmt.Errorf("pkcs7: digest is %d bytes, want %d (sha256)", len(opts.Digest), sha256.Size)
	}
	if len(opts.ContentType) == 0 {
		return nil, errors.New("pkcs7: no content type")
	}
	if opts.Content != nil {
		s := cryptobyte.String(opts.Content)
		var elem cryptobyte.String
		var tag cbasn1.Tag
		if !s.ReadAnyASN1Element(&elem, &tag) || !s.Empty() {
			return nil, errors.New("pkcs7: content is not one DER element")
		}
	}
	if err := checkKeyMatchesCert(signer.Public(), cert); err != nil {
		return nil, fmt.Errorf("pkcs7: %w", err)
	}
	sigAlg, sigAlgNull, err := signatureAlgorithm(signer.Public())
	if err != nil {
		return nil, fmt.Errorf("pkcs7: %w", err)
	}
	version := int64(1)
	if opts.SubjectKeyID {
		if len(cert.SubjectKeyId) == 0 {
			return nil, fmt.Errorf("pkcs7: certificate (subject %s) has no subject key identifier", cert.Subject)
		}
		version = 3
	} else if cert.SerialNumber == nil || len(cert.RawIssuer) == 0 {
		return nil, fmt.Errorf("pkcs7: certificate (subject %s) has no issuer or serial number", cert.Subject)
	}

	// The signature is over the digest itself, or with signed attributes
	// over SHA-256 of the attribute SET (RFC 5652 §5.4).
	toSign := opts.Digest
	var attrs []byte // contents of the attribute SET, already sorted
	if opts.Attributes != nil {
		attrs, err = marshalAttributes(opts.Attributes, opts.ContentType, opts.Digest)
		if err != nil {
			return nil, fmt.Errorf("pkcs7: %w", err)
		}
		b := cryptobyte.NewBuilder(nil)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(attrs) })
		set, err := b.Bytes()
		if err != nil {
			return nil, fmt.Errorf("pkcs7: signed attributes: %w", err)
		}
		h := sha256.Sum256(set)
		toSign = h[:]
	}
	sig, err := signer.Sign(rand.Reader, toSign, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("pkcs7: %w", err)
	}

	digestAlg := func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(OIDSHA256)
			if opts.DigestNullParams {
				b.AddASN1NULL()
			}
		})
	}
	b := cryptobyte.NewBuilder(nil)
	// ContentInfo ::= SEQUENCE { contentType, content [0] EXPLICIT }
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(OIDSignedData)
		b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) {
			// SignedData ::= SEQUENCE
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(version)
				b.AddASN1(cbasn1.SET, digestAlg) // digestAlgorithms
				// encapContentInfo ::= SEQUENCE { eContentType, eContent [0] EXPLICIT OPTIONAL }
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(opts.ContentType)
					if opts.Content != nil {
						b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) { b.AddBytes(opts.Content) })
					}
				})
				if opts.IncludeCertificate {
					b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) { b.AddBytes(cert.Raw) })
				}
				// signerInfos SET OF SignerInfo
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1Int64(version)
						if opts.SubjectKeyID {
							b.AddASN1(tagSKID, func(b *cryptobyte.Builder) { b.AddBytes(cert.SubjectKeyId) })
						} else {
							// IssuerAndSerialNumber ::= SEQUENCE { issuer Name, serialNumber }
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
								b.AddBytes(cert.RawIssuer)
								b.AddASN1BigInt(cert.SerialNumber)
							})
						}
						digestAlg(b)
						if attrs != nil {
							b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) { b.AddBytes(attrs) })
						}
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(sigAlg)
							if sigAlgNull {
								b.AddASN1NULL()
							}
						})
						b.AddASN1OctetString(sig)
					})
				})
			})
		})
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("pkcs7: encoding: %w", err)
	}
	return der, nil
}

// marshalAttributes returns the DER attributes, each
// Attribute ::= SEQUENCE { attrType OID, attrValues SET OF value },
// sorted by their encodings as DER requires of a SET OF (X.690 §11.6),
// concatenated without the enclosing SET header.
func marshalAttributes(a *Attributes, contentType asn1.ObjectIdentifier, digest []byte) ([]byte, error) {
	var list [][]byte
	add := func(oid asn1.ObjectIdentifier, value func(b *cryptobyte.Builder)) error {
		b := cryptobyte.NewBuilder(nil)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			b.AddASN1(cbasn1.SET, value)
		})
		der, err := b.Bytes()
		if err != nil {
			return err
		}
		list = append(list, der)
		return nil
	}
	if err := add(OIDAttributeContentType, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(contentType)
	}); err != nil {
		return nil, fmt.Errorf("contentType attribute: %w", err)
	}
	if a.SigningTime != nil {
		t := a.SigningTime.UTC().Truncate(time.Second)
		if err := add(OIDAttributeSigningTime, func(b *cryptobyte.Builder) {
			if t.Year() >= 1950 && t.Year() < 2050 {
				b.AddASN1UTCTime(t)
			} else {
				b.AddASN1GeneralizedTime(t)
			}
		}); err != nil {
			return nil, fmt.Errorf("signingTime attribute: %w", err)
		}
	}
	if err := add(OIDAttributeMessageDigest, func(b *cryptobyte.Builder) {
		b.AddASN1OctetString(digest)
	}); err != nil {
		return nil, fmt.Errorf("messageDigest attribute: %w", err)
	}
	if a.EmptySMIMECapabilities {
		if err := add(OIDAttributeSMIMECapabilities, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(*cryptobyte.Builder) {})
		}); err != nil {
			return nil, fmt.Errorf("SMIMECapabilities attribute: %w", err)
		}
	}
	slices.SortFunc(list, bytes.Compare)
	return bytes.Join(list, nil), nil
}

// signatureAlgorithm returns the signatureAlgorithm OID that OpenSSL's CMS
// code writes for pub, and whether it has NULL parameters: rsaEncryption
// with NULL for RSA (what sign-file and pesign write), ecdsa-with-SHA256
// without parameters for ECDSA.
func signatureAlgorithm(pub crypto.PublicKey) (asn1.ObjectIdentifier, bool, error) {
	switch pub.(type) {
	case *rsa.PublicKey:
		return OIDRSAEncryption, true, nil
	case *ecdsa.PublicKey:
		return OIDECDSAWithSHA256, false, nil
	}
	return nil, false, fmt.Errorf("unsupported public key type %T (want RSA or ECDSA)", pub)
}

// checkKeyMatchesCert reports an error unless pub is the public key of cert.
func checkKeyMatchesCert(pub crypto.PublicKey, cert *x509.Certificate) error {
	k, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !k.Equal(cert.PublicKey) {
		return fmt.Errorf("signer's public key does not match certificate (subject %s)", cert.Subject)
	}
	return nil
}
