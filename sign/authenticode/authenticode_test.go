package authenticode

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
)

// fwupdDigest is the Authenticode digest of Debian's unsigned
// fwupdx64.efi (docs/formats.md §1.2).
const fwupdDigest = "54563dba7fe706fab763168771637e02f82bf776e47fc16c96b87f3ecdb11958"

// TestMarshalIndirectData pins the DER of SpcIndirectDataContent in
// Debian's current layout (docs/formats.md §1.4), byte for byte.
func TestMarshalIndirectData(t *testing.T) {
	t.Parallel()
	digest, _ := hex.DecodeString(fwupdDigest)
	got, err := MarshalIndirectData(digest)
	if err != nil {
		t.Fatal(err)
	}
	want := "304c" + // SpcIndirectDataContent
		"3017" + "060a2b0601040182370201 0f" + // data: SPC_PE_IMAGE_DATAOBJ
		"3009" + "030100" + "a004a2028000" + // SpcPeImageData: no flags, empty file link
		"3031" + "300d" + "0609608648016503040201" + "0500" + // DigestInfo: sha256, NULL
		"0420" + fwupdDigest
	want = strings.ReplaceAll(want, " ", "")
	if hex.EncodeToString(got) != want {
		t.Errorf("MarshalIndirectData:\n got %x\nwant %s", got, want)
	}
	id, err := ParseIndirectData(got)
	if err != nil {
		t.Fatal(err)
	}
	if !id.DataType.Equal(OIDSpcPEImageData) || !bytes.Equal(id.Digest, digest) || !bytes.Equal(id.Contents, got[2:]) {
		t.Errorf("ParseIndirectData(MarshalIndirectData) = %v %x %x, want %v %x %x", id.DataType, id.Digest, id.Contents, OIDSpcPEImageData, digest, got[2:])
	}
}

// TestParseIndirectDataRefuses changes one part of a good encoding.
func TestParseIndirectDataRefuses(t *testing.T) {
	t.Parallel()
	digest, _ := hex.DecodeString(fwupdDigest)
	good, err := MarshalIndirectData(digest)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) []byte {
		t.Helper()
		o, _ := hex.DecodeString(old)
		n, _ := hex.DecodeString(new)
		if !bytes.Contains(good, o) {
			t.Fatalf("%s is not in %x", old, good)
		}
		return bytes.Replace(good, o, n, 1)
	}
	short := edit("3031300d0609608648016503040201050004"+"20"+fwupdDigest, "3030300d0609608648016503040201050004"+"1f"+fwupdDigest[2:])
	short[1]-- // the outer SEQUENCE is a byte shorter
	for _, c := range []struct {
		name, want string
		der        []byte
	}{
		{"empty", "not a DER SEQUENCE", nil},
		{"trailing byte", "not a DER SEQUENCE", append(bytes.Clone(good), 0)},
		{"another data type", "is not a PE image", edit("823702010f", "8237020116")},
		{"sha1", "is not sha256", edit("0609608648016503040201", "06092b0e03021a05000000")},
		{"parameters not NULL", "not NULL", edit("0500", "0400")},
		{"short digest", "digest is 31 bytes", short},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseIndirectData(c.der)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ParseIndirectData: error %v, want one saying %q", err, c.want)
			}
		})
	}
}

// TestSign signs a digest and reads it back: the signature carries the
// digest, messageDigest is over the content's contents octets, and the
// RSA signature verifies with the certificate.
func TestSign(t *testing.T) {
	t.Parallel()
	key := testutil.NewKey(t, 2048)
	digest, _ := hex.DecodeString(fwupdDigest)
	when := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	sig, err := Sign(key.Signer, key.Cert, digest, when)
	if err != nil {
		t.Fatal(err)
	}
	sd, id, err := ParseSignature(sig)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := SignedDigest(sig); err != nil || !bytes.Equal(got, digest) {
		t.Errorf("SignedDigest = %x, %v; want %x", got, err, digest)
	}
	si := &sd.Signers[0]
	md := sha256.Sum256(id.Contents)
	if !bytes.Equal(si.MessageDigest, md[:]) {
		t.Errorf("messageDigest %x, want %x", si.MessageDigest, md)
	}
	if err := si.Verify(key.Cert, md[:]); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	if si.SigningTime == nil || !si.SigningTime.Equal(when) {
		t.Errorf("signingTime %v, want %v", si.SigningTime, when)
	}
	if _, err := Sign(key.Signer, key.Cert, digest[:31], when); err == nil {
		t.Error("Sign(31-byte digest): got no error")
	}
	if _, _, err := ParseSignature([]byte("junk")); err == nil {
		t.Error("ParseSignature(junk): got no error")
	}
}
