package pkcs7

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
)

// Verify checks si against cert: the signer identifier must match cert
// (issuer and serial number, or subject key identifier). With signed
// attributes, MessageDigest must equal digest and the signature must
// verify over SHA-256(RawSignedAttrs); without them, the signature must
// verify over digest directly (RFC 5652 §5.4 and §5.6). digest is the
// SHA-256 of the signed content (for Authenticode, of the contents octets
// of SpcIndirectDataContent). On a digest mismatch the error shows both
// digests in hex.
func (si *SignerInfo) Verify(cert *x509.Certificate, digest []byte) error {
	if cert == nil {
		return errors.New("no certificate")
	}
	if !si.matches(cert) {
		return fmt.Errorf("signer %s does not match certificate (subject %s, serial %x)", si.describeSID(), cert.Subject, cert.SerialNumber)
	}
	if !si.DigestAlgorithm.Equal(OIDSHA256) {
		return fmt.Errorf("unsupported digest algorithm %v (want sha256 %v)", si.DigestAlgorithm, OIDSHA256)
	}
	if len(digest) != sha256.Size {
		return fmt.Errorf("digest is %d bytes, want %d (sha256)", len(digest), sha256.Size)
	}
	signed := digest
	if si.RawSignedAttrs != nil {
		if si.MessageDigest == nil {
			return errors.New("signed attributes have no messageDigest")
		}
		if !bytes.Equal(si.MessageDigest, digest) {
			return fmt.Errorf("digest mismatch: messageDigest is %x, data digest is %x", si.MessageDigest, digest)
		}
		h := sha256.Sum256(si.RawSignedAttrs)
		signed = h[:]
	}
	if err := verifySignature(cert.PublicKey, si.SignatureAlgorithm, signed, si.Signature); err != nil {
		if si.RawSignedAttrs == nil {
			if got := recoverRSADigest(cert.PublicKey, si.Signature); got != nil && !bytes.Equal(got, digest) {
				return fmt.Errorf("digest mismatch: signature is over %x, data digest is %x", got, digest)
			}
		}
		return err
	}
	return nil
}

// SignerCertificate returns the certificate in sd.Certificates matching si,
// or nil.
func (sd *SignedData) SignerCertificate(si *SignerInfo) *x509.Certificate {
	for _, c := range sd.Certificates {
		if si.matches(c) {
			return c
		}
	}
	return nil
}

func (si *SignerInfo) matches(cert *x509.Certificate) bool {
	if si.SubjectKeyID != nil {
		return len(si.SubjectKeyID) > 0 && bytes.Equal(si.SubjectKeyID, cert.SubjectKeyId)
	}
	return si.SerialNumber != nil && cert.SerialNumber != nil &&
		bytes.Equal(si.Issuer, cert.RawIssuer) && si.SerialNumber.Cmp(cert.SerialNumber) == 0
}

func (si *SignerInfo) describeSID() string {
	if si.SubjectKeyID != nil {
		return fmt.Sprintf("(subject key identifier %x)", si.SubjectKeyID)
	}
	return fmt.Sprintf("(serial %x)", si.SerialNumber)
}

// verifySignature checks sig over the SHA-256 hash with pub.
func verifySignature(pub crypto.PublicKey, alg []int, hash, sig []byte) error {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if !OIDRSAEncryption.Equal(alg) && !OIDSHA256WithRSAEncryption.Equal(alg) {
			return fmt.Errorf("signature algorithm %v does not fit an RSA key", alg)
		}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, hash, sig); err != nil {
			return fmt.Errorf("rsa signature does not verify: %w", err)
		}
		return nil
	case *ecdsa.PublicKey:
		if !OIDECDSAWithSHA256.Equal(alg) && !OIDECPublicKey.Equal(alg) {
			return fmt.Errorf("signature algorithm %v does not fit an ECDSA key", alg)
		}
		if !ecdsa.VerifyASN1(pub, hash, sig) {
			return errors.New("ecdsa signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("unsupported public key type %T", pub)
}

// sha256DigestInfoPrefix is the DER DigestInfo header for SHA-256
// (RFC 8017 §9.2 note 1).
var sha256DigestInfoPrefix = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

// recoverRSADigest returns the SHA-256 digest inside an RSA PKCS #1 v1.5
// signature (the public operation, then the encoded message), or nil if
// pub is not RSA or the signature does not hold one. It only serves
// error messages: a mismatch of digests is easier to act on than "does not
// verify".
func recoverRSADigest(pub crypto.PublicKey, sig []byte) []byte {
	k, ok := pub.(*rsa.PublicKey)
	if !ok || k.N == nil || k.N.Sign() <= 0 || len(sig) != (k.N.BitLen()+7)/8 {
		return nil
	}
	s := new(big.Int).SetBytes(sig)
	if s.Cmp(k.N) >= 0 {
		return nil
	}
	em := s.Exp(s, big.NewInt(int64(k.E)), k.N).FillBytes(make([]byte, len(sig)))
	// EM = 0x00 || 0x01 || PS (0xff...) || 0x00 || DigestInfo
	tail := len(sha256DigestInfoPrefix) + sha256.Size
	if len(em) < tail+11 || em[0] != 0 || em[1] != 1 || em[len(em)-tail-1] != 0 {
		return nil
	}
	for _, c := range em[2 : len(em)-tail-1] {
		if c != 0xff {
			return nil
		}
	}
	if !bytes.Equal(em[len(em)-tail:len(em)-sha256.Size], sha256DigestInfoPrefix) {
		return nil
	}
	return em[len(em)-sha256.Size:]
}
