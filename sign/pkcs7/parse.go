package pkcs7

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// Parse parses a DER ContentInfo holding SignedData (RFC 5652 §3 and §5).
// It tolerates trailing zero bytes (signatures detached from files whose
// tool counted padding in dwLength) and rejects any other trailing data.
// Unsigned attributes, CRLs and certificate choices other than X.509
// certificates are skipped. BER (indefinite lengths) is rejected.
//
// Errors are *inputerr.Error values carrying the byte offset and the
// field, such as "offset 0x1f: signedData.digestAlgorithms: ...".
func Parse(der []byte) (*SignedData, error) {
	der = bytes.Clone(der) // results alias this copy, not the caller's bytes
	p := parser{base: cap(der)}
	in := cryptobyte.String(der)
	var ci cryptobyte.String
	if err := p.read(&in, &ci, cbasn1.SEQUENCE, "contentInfo"); err != nil {
		return nil, err
	}
	for i, c := range in {
		if c != 0 {
			return nil, p.errAt(len(der)-len(in)+i, "", "%d bytes of trailing data after contentInfo", len(in)-i)
		}
	}
	sd := &SignedData{Raw: der[:len(der)-len(in)]}

	var ct asn1.ObjectIdentifier
	if err := p.readOID(&ci, &ct, "contentInfo.contentType"); err != nil {
		return nil, err
	}
	if !ct.Equal(OIDSignedData) {
		return nil, p.errAt(0, "contentInfo.contentType", "content type is %v, want signedData (%v)", ct, OIDSignedData)
	}
	var explicit, sdSeq cryptobyte.String
	if err := p.read(&ci, &explicit, tagExplicit0, "contentInfo.content"); err != nil {
		return nil, err
	}
	if err := p.end(ci, "contentInfo"); err != nil {
		return nil, err
	}
	if err := p.read(&explicit, &sdSeq, cbasn1.SEQUENCE, "signedData"); err != nil {
		return nil, err
	}
	if err := p.end(explicit, "contentInfo.content"); err != nil {
		return nil, err
	}
	if err := p.parseSignedData(sdSeq, sd); err != nil {
		return nil, err
	}
	return sd, nil
}

func (p *parser) parseSignedData(s cryptobyte.String, sd *SignedData) error {
	var err error
	if sd.Version, err = p.readVersion(&s, "signedData.version"); err != nil {
		return err
	}

	var set cryptobyte.String
	if err := p.read(&s, &set, cbasn1.SET, "signedData.digestAlgorithms"); err != nil {
		return err
	}
	for i := 0; !set.Empty(); i++ {
		oid, err := p.readAlgorithm(&set, fmt.Sprintf("signedData.digestAlgorithms[%d]", i))
		if err != nil {
			return err
		}
		sd.DigestAlgorithms = append(sd.DigestAlgorithms, oid)
	}

	// EncapsulatedContentInfo ::= SEQUENCE { eContentType, eContent [0] EXPLICIT OPTIONAL }
	var eci cryptobyte.String
	if err := p.read(&s, &eci, cbasn1.SEQUENCE, "signedData.encapContentInfo"); err != nil {
		return err
	}
	if err := p.readOID(&eci, &sd.ContentType, "signedData.encapContentInfo.eContentType"); err != nil {
		return err
	}
	if eci.PeekASN1Tag(tagExplicit0) {
		var content, elem cryptobyte.String
		var tag cbasn1.Tag
		if err := p.read(&eci, &content, tagExplicit0, "signedData.encapContentInfo.eContent"); err != nil {
			return err
		}
		if !content.ReadAnyASN1Element(&elem, &tag) {
			return p.err(content, "signedData.encapContentInfo.eContent", "%s", p.why(content))
		}
		if err := p.end(content, "signedData.encapContentInfo.eContent"); err != nil {
			return err
		}
		sd.Content = elem
	}
	if err := p.end(eci, "signedData.encapContentInfo"); err != nil {
		return err
	}

	if s.PeekASN1Tag(tagExplicit0) {
		var certs cryptobyte.String
		if err := p.read(&s, &certs, tagExplicit0, "signedData.certificates"); err != nil {
			return err
		}
		for i := 0; !certs.Empty(); i++ {
			field := fmt.Sprintf("signedData.certificates[%d]", i)
			start := certs
			var elem cryptobyte.String
			var tag cbasn1.Tag
			if !certs.ReadAnyASN1Element(&elem, &tag) {
				return p.err(certs, field, "%s", p.why(certs))
			}
			if tag != cbasn1.SEQUENCE {
				continue // extendedCertificate, attribute or other certificate: not used here
			}
			c, err := x509.ParseCertificate(elem)
			if err != nil {
				return p.err(start, field, "%w", err)
			}
			sd.Certificates = append(sd.Certificates, c)
		}
	}
	if s.PeekASN1Tag(tagImplicit1) {
		var crls cryptobyte.String
		if err := p.read(&s, &crls, tagImplicit1, "signedData.crls"); err != nil {
			return err
		}
	}

	if err := p.read(&s, &set, cbasn1.SET, "signedData.signerInfos"); err != nil {
		return err
	}
	for i := 0; !set.Empty(); i++ {
		field := fmt.Sprintf("signedData.signerInfos[%d]", i)
		var seq cryptobyte.String
		if err := p.read(&set, &seq, cbasn1.SEQUENCE, field); err != nil {
			return err
		}
		si, err := p.parseSignerInfo(seq, field)
		if err != nil {
			return err
		}
		if si.ContentType != nil && !si.ContentType.Equal(sd.ContentType) {
			return p.err(seq, field+".signedAttrs.contentType", "content type attribute %v differs from eContentType %v", si.ContentType, sd.ContentType)
		}
		sd.Signers = append(sd.Signers, *si)
	}
	return p.end(s, "signedData")
}

// parseSignerInfo parses the contents of
//
//	SignerInfo ::= SEQUENCE {
//	    version, sid, digestAlgorithm, signedAttrs [0] IMPLICIT OPTIONAL,
//	    signatureAlgorithm, signature OCTET STRING, unsignedAttrs [1] IMPLICIT OPTIONAL }
func (p *parser) parseSignerInfo(s cryptobyte.String, field string) (*SignerInfo, error) {
	si := &SignerInfo{}
	var err error
	if si.Version, err = p.readVersion(&s, field+".version"); err != nil {
		return nil, err
	}
	switch {
	case s.PeekASN1Tag(cbasn1.SEQUENCE):
		// IssuerAndSerialNumber ::= SEQUENCE { issuer Name, serialNumber INTEGER }
		var ias, name cryptobyte.String
		if err := p.read(&s, &ias, cbasn1.SEQUENCE, field+".sid"); err != nil {
			return nil, err
		}
		if !ias.ReadASN1Element(&name, cbasn1.SEQUENCE) {
			return nil, p.err(ias, field+".sid.issuer", "%s", p.why(ias))
		}
		si.Issuer = name
		si.SerialNumber = new(big.Int)
		start := ias
		if !ias.ReadASN1Integer(si.SerialNumber) {
			return nil, p.err(start, field+".sid.serialNumber", "%s", p.whyTag(start, cbasn1.INTEGER))
		}
		if err := p.end(ias, field+".sid"); err != nil {
			return nil, err
		}
	case s.PeekASN1Tag(tagSKID):
		var skid cryptobyte.String
		if err := p.read(&s, &skid, tagSKID, field+".sid"); err != nil {
			return nil, err
		}
		si.SubjectKeyID = skid
		if si.SubjectKeyID == nil {
			si.SubjectKeyID = []byte{}
		}
	default:
		return nil, p.err(s, field+".sid", "want issuerAndSerialNumber or subjectKeyIdentifier: %s", p.whyTag(s, cbasn1.SEQUENCE))
	}
	if si.DigestAlgorithm, err = p.readAlgorithm(&s, field+".digestAlgorithm"); err != nil {
		return nil, err
	}
	if s.PeekASN1Tag(tagExplicit0) {
		start := s
		var elem, attrs cryptobyte.String
		if !s.ReadASN1Element(&elem, tagExplicit0) {
			return nil, p.err(start, field+".signedAttrs", "%s", p.why(start))
		}
		// The signature covers the attributes with the SET tag, not [0]
		// (RFC 5652 §5.4).
		si.RawSignedAttrs = append([]byte{0x31}, elem[1:]...)
		elem.ReadASN1(&attrs, tagExplicit0) // cannot fail: read above
		if err := p.parseAttributes(attrs, si, field+".signedAttrs"); err != nil {
			return nil, err
		}
	}
	if si.SignatureAlgorithm, err = p.readAlgorithm(&s, field+".signatureAlgorithm"); err != nil {
		return nil, err
	}
	var sig cryptobyte.String
	if err := p.read(&s, &sig, cbasn1.OCTET_STRING, field+".signature"); err != nil {
		return nil, err
	}
	si.Signature = sig
	if s.PeekASN1Tag(tagImplicit1) {
		var unsigned cryptobyte.String
		if err := p.read(&s, &unsigned, tagImplicit1, field+".unsignedAttrs"); err != nil {
			return nil, err
		}
	}
	return si, p.end(s, field)
}

// parseAttributes reads the attributes this package knows. Each may occur
// once, with one value (RFC 5652 §11). Others are skipped.
func (p *parser) parseAttributes(s cryptobyte.String, si *SignerInfo, field string) error {
	seen := map[string]bool{}
	for i := 0; !s.Empty(); i++ {
		f := fmt.Sprintf("%s[%d]", field, i)
		var attr, values, value cryptobyte.String
		if err := p.read(&s, &attr, cbasn1.SEQUENCE, f); err != nil {
			return err
		}
		var oid asn1.ObjectIdentifier
		if err := p.readOID(&attr, &oid, f+".attrType"); err != nil {
			return err
		}
		if err := p.read(&attr, &values, cbasn1.SET, f+".attrValues"); err != nil {
			return err
		}
		if err := p.end(attr, f); err != nil {
			return err
		}
		var name string
		switch {
		case oid.Equal(OIDAttributeContentType):
			name = "contentType"
		case oid.Equal(OIDAttributeMessageDigest):
			name = "messageDigest"
		case oid.Equal(OIDAttributeSigningTime):
			name = "signingTime"
		default:
			continue
		}
		f = field + "." + name
		if seen[name] {
			return p.err(attr, f, "attribute occurs more than once")
		}
		seen[name] = true
		valueStart := values
		switch name {
		case "contentType":
			var ct asn1.ObjectIdentifier
			if err := p.readOID(&values, &ct, f); err != nil {
				return err
			}
			si.ContentType = ct
		case "messageDigest":
			if err := p.read(&values, &value, cbasn1.OCTET_STRING, f); err != nil {
				return err
			}
			si.MessageDigest = value
			if si.MessageDigest == nil {
				si.MessageDigest = []byte{}
			}
		case "signingTime":
			var t time.Time
			switch {
			case values.PeekASN1Tag(cbasn1.UTCTime):
				if !values.ReadASN1UTCTime(&t) {
					return p.err(valueStart, f, "bad UTCTime")
				}
			case values.PeekASN1Tag(cbasn1.GeneralizedTime):
				if !values.ReadASN1GeneralizedTime(&t) {
					return p.err(valueStart, f, "bad GeneralizedTime")
				}
			default:
				return p.err(values, f, "want UTCTime or GeneralizedTime: %s", p.whyTag(values, cbasn1.UTCTime))
			}
			si.SigningTime = &t
		}
		if !values.Empty() {
			return p.err(values, f, "attribute has more than one value")
		}
	}
	return nil
}

// parser reports positions as offsets into the DER given to Parse. Every
// cryptobyte.String it sees is a subslice of that DER, and slicing keeps
// the end of the backing array, so offset = cap(der) - cap(s).
type parser struct{ base int }

func (p *parser) offset(s cryptobyte.String) int64 { return int64(p.base - cap(s)) }

func (p *parser) err(at cryptobyte.String, field, format string, args ...any) error {
	return &inputerr.Error{Offset: p.offset(at), Field: field, Err: fmt.Errorf(format, args...)}
}

func (p *parser) errAt(off int, field, format string, args ...any) error {
	return &inputerr.Error{Offset: int64(off), Field: field, Err: fmt.Errorf(format, args...)}
}

// read reads one DER element with the given tag from s into out (its
// contents), or says what was found instead.
func (p *parser) read(s, out *cryptobyte.String, tag cbasn1.Tag, field string) error {
	start := *s
	if !s.ReadASN1(out, tag) {
		return p.err(start, field, "%s", p.whyTag(start, tag))
	}
	if *out == nil {
		*out = cryptobyte.String{} // keep an empty element distinct from "absent"
	}
	return nil
}

func (p *parser) readOID(s *cryptobyte.String, out *asn1.ObjectIdentifier, field string) error {
	start := *s
	if !s.ReadASN1ObjectIdentifier(out) {
		if start.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) {
			return p.err(start, field, "malformed object identifier")
		}
		return p.err(start, field, "%s", p.whyTag(start, cbasn1.OBJECT_IDENTIFIER))
	}
	return nil
}

// readVersion reads a CMSVersion INTEGER.
func (p *parser) readVersion(s *cryptobyte.String, field string) (int, error) {
	start := *s
	var v int64
	if !s.ReadASN1Integer(&v) {
		return 0, p.err(start, field, "%s", p.whyTag(start, cbasn1.INTEGER))
	}
	if v < 0 || v > math.MaxInt32 {
		return 0, p.err(start, field, "version %d out of range", v)
	}
	return int(v), nil
}

// readAlgorithm reads AlgorithmIdentifier ::= SEQUENCE { algorithm OID,
// parameters ANY OPTIONAL } and returns the OID.
func (p *parser) readAlgorithm(s *cryptobyte.String, field string) (asn1.ObjectIdentifier, error) {
	var seq cryptobyte.String
	if err := p.read(s, &seq, cbasn1.SEQUENCE, field); err != nil {
		return nil, err
	}
	var oid asn1.ObjectIdentifier
	if err := p.readOID(&seq, &oid, field+".algorithm"); err != nil {
		return nil, err
	}
	if !seq.Empty() {
		var params cryptobyte.String
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1Element(&params, &tag) {
			return nil, p.err(seq, field+".parameters", "%s", p.why(seq))
		}
	}
	if err := p.end(seq, field); err != nil {
		return nil, err
	}
	return oid, nil
}

// end reports an error if s, the rest of a constructed element, has
// unread data.
func (p *parser) end(s cryptobyte.String, field string) error {
	if !s.Empty() {
		return p.err(s, field, "%d bytes of unexpected data at the end (tag %#02x)", len(s), s[0])
	}
	return nil
}

// whyTag says why an element with the wanted tag could not be read at s.
func (p *parser) whyTag(s cryptobyte.String, want cbasn1.Tag) string {
	if len(s) > 0 && cbasn1.Tag(s[0]) != want {
		return fmt.Sprintf("want tag %#02x, found %#02x", uint8(want), s[0])
	}
	return p.why(s)
}

// why says why no DER element could be read at s.
func (p *parser) why(s cryptobyte.String) string {
	switch {
	case len(s) == 0:
		return "missing (end of data)"
	case s[0]&0x1f == 0x1f:
		return fmt.Sprintf("unsupported high tag number form (tag byte %#02x)", s[0])
	case len(s) >= 2 && s[1] == 0x80:
		return "indefinite length (BER) is not supported"
	}
	return fmt.Sprintf("truncated or non-DER length (%d bytes left)", len(s))
}
