package sign

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
)

// Encrypted PKCS #8 private keys ("ENCRYPTED PRIVATE KEY", RFC 5958 §3),
// as openssl genpkey -aes256 and openssl pkcs8 -topk8 write them: PBES2
// (RFC 8018 §6.2) with PBKDF2 and a CBC cipher. The standard library reads
// only the unencrypted form; this file is the decryption, nothing more.

// ErrPassphrase means the passphrase does not decrypt the key (or the key
// is corrupt: CBC cannot tell the two apart).
var ErrPassphrase = errors.New("wrong passphrase, or the encrypted key is corrupt")

var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

// maxIterations bounds PBKDF2's work: a key file is input, and a count of
// 2^31 would hold a run for hours. OpenSSL writes 2048; 10 million is far
// beyond what anyone waits for at every signing run.
const maxIterations = 10_000_000

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

// EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm, encryptedData OCTET STRING }
type encryptedPrivateKeyInfo struct {
	Algorithm     algorithmIdentifier
	EncryptedData []byte
}

// PBES2-params ::= SEQUENCE { keyDerivationFunc, encryptionScheme }
type pbes2Params struct {
	KeyDerivationFunc algorithmIdentifier
	EncryptionScheme  algorithmIdentifier
}

// PBKDF2-params ::= SEQUENCE { salt OCTET STRING (the "specified" choice),
// iterationCount INTEGER, keyLength INTEGER OPTIONAL, prf DEFAULT
// hmacWithSHA1 }
type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                 `asn1:"optional"`
	PRF        algorithmIdentifier `asn1:"optional"`
}

// decryptPKCS8 returns the PKCS #8 PrivateKeyInfo inside an
// EncryptedPrivateKeyInfo. Its errors never contain key material.
func decryptPKCS8(der, passphrase []byte) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) != 0 {
		return nil, errors.New("ENCRYPTED PRIVATE KEY: not an EncryptedPrivateKeyInfo")
	}
	if !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("ENCRYPTED PRIVATE KEY: encryption %v is not supported (only PBES2; convert with openssl pkcs8 -topk8 -v2 aes256)", info.Algorithm.Algorithm)
	}
	var params pbes2Params
	if rest, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params); err != nil || len(rest) != 0 {
		return nil, errors.New("ENCRYPTED PRIVATE KEY: bad PBES2 parameters")
	}
	if !params.KeyDerivationFunc.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("ENCRYPTED PRIVATE KEY: key derivation %v is not supported (only PBKDF2)", params.KeyDerivationFunc.Algorithm)
	}
	var kdf pbkdf2Params
	if rest, err := asn1.Unmarshal(params.KeyDerivationFunc.Parameters.FullBytes, &kdf); err != nil || len(rest) != 0 {
		return nil, errors.New("ENCRYPTED PRIVATE KEY: bad PBKDF2 parameters")
	}
	if kdf.Iterations < 1 || kdf.Iterations > maxIterations {
		return nil, fmt.Errorf("ENCRYPTED PRIVATE KEY: PBKDF2 iteration count %d is out of range (1 to %d)", kdf.Iterations, maxIterations)
	}
	var prf func() hash.Hash
	switch p := kdf.PRF.Algorithm; {
	case len(p) == 0 || p.Equal(oidHMACSHA1):
		prf = sha1.New
	case p.Equal(oidHMACSHA224):
		prf = sha256.New224
	case p.Equal(oidHMACSHA256):
		prf = sha256.New
	case p.Equal(oidHMACSHA384):
		prf = sha512.New384
	case p.Equal(oidHMACSHA512):
		prf = sha512.New
	default:
		return nil, fmt.Errorf("ENCRYPTED PRIVATE KEY: PBKDF2 PRF %v is not supported", p)
	}
	var (
		keyLen   int
		newBlock func([]byte) (cipher.Block, error)
	)
	switch e := params.EncryptionScheme.Algorithm; {
	case e.Equal(oidAES128CBC):
		keyLen, newBlock = 16, aes.NewCipher
	case e.Equal(oidAES192CBC):
		keyLen, newBlock = 24, aes.NewCipher
	case e.Equal(oidAES256CBC):
		keyLen, newBlock = 32, aes.NewCipher
	case e.Equal(oidDESEDE3CBC):
		keyLen, newBlock = 24, des.NewTripleDESCipher
	default:
		return nil, fmt.Errorf("ENCRYPTED PRIVATE KEY: cipher %v is not supported (AES-CBC or DES-EDE3-CBC)", e)
	}
	if kdf.KeyLength != 0 && kdf.KeyLength != keyLen {
		return nil, fmt.Errorf("ENCRYPTED PRIVATE KEY: PBKDF2 key length %d does not fit the cipher (%d)", kdf.KeyLength, keyLen)
	}
	var iv []byte
	if rest, err := asn1.Unmarshal(params.EncryptionScheme.Parameters.FullBytes, &iv); err != nil || len(rest) != 0 {
		return nil, errors.New("ENCRYPTED PRIVATE KEY: bad cipher parameters (want an IV)")
	}
	// PBKDF2 applies HMAC over the hash itself.
	key, err := pbkdf2.Key(prf, string(passphrase), kdf.Salt, kdf.Iterations, keyLen)
	if err != nil {
		return nil, fmt.Errorf("ENCRYPTED PRIVATE KEY: %w", err)
	}
	block, err := newBlock(key)
	if err != nil {
		return nil, fmt.Errorf("ENCRYPTED PRIVATE KEY: %w", err)
	}
	bs := block.BlockSize()
	if len(iv) != bs || len(info.EncryptedData) == 0 || len(info.EncryptedData)%bs != 0 {
		return nil, errors.New("ENCRYPTED PRIVATE KEY: IV or encrypted data of the wrong length")
	}
	out := make([]byte, len(info.EncryptedData))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, info.EncryptedData)
	// PKCS #7 padding (RFC 8018 §6.1.1): 1 to bs bytes, each the count.
	pad := int(out[len(out)-1])
	if pad < 1 || pad > bs || subtle.ConstantTimeCompare(out[len(out)-pad:], bytesOf(byte(pad), pad)) != 1 {
		return nil, ErrPassphrase
	}
	return out[:len(out)-pad], nil
}

func bytesOf(b byte, n int) []byte {
	s := make([]byte, n)
	for i := range s {
		s[i] = b
	}
	return s
}
