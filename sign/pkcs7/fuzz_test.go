package pkcs7

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/testutil"
)

// debianModuleSignature returns the PKCS#7 Debian's build appended to
// testdata/debian/dummy.ko: the sig_len bytes before the 40-byte trailer.
func debianModuleSignature(tb testing.TB) []byte {
	tb.Helper()
	ko, err := os.ReadFile(testutil.DebianFixture(tb, "dummy.ko"))
	if err != nil {
		tb.Fatal(err)
	}
	end := len(ko) - 40
	n := int(binary.BigEndian.Uint32(ko[end+8:]))
	return ko[end-n : end]
}

// seeds returns real signatures of both flavours: Debian's module
// signature, and ours for a module and for an EFI image.
func seeds(tb testing.TB) [][]byte {
	tb.Helper()
	k := testutil.NewKey(tb, 2048)
	digest := sha256.Sum256([]byte("seed"))
	module, err := Sign(k.Signer, k.Cert, SignOptions{ContentType: OIDData, Digest: digest[:], SubjectKeyID: true})
	if err != nil {
		tb.Fatal(err)
	}
	when := time.Date(2026, 4, 6, 21, 49, 10, 0, time.UTC)
	efi, err := Sign(k.Signer, k.Cert, SignOptions{
		ContentType: oidSPCIndirectData, Content: []byte{0x30, 0x03, 0x04, 0x01, 0x00}, Digest: digest[:],
		Attributes:         &Attributes{SigningTime: &when, EmptySMIMECapabilities: true},
		IncludeCertificate: true, DigestNullParams: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return [][]byte{debianModuleSignature(tb), module, efi}
}

func FuzzParse(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	k := testutil.NewKey(f, 2048)
	f.Fuzz(func(t *testing.T, der []byte) {
		sd, err := Parse(der)
		if err != nil {
			var ie *inputerr.Error
			if !errors.As(err, &ie) {
				t.Fatalf("got %T %v, want an *inputerr.Error", err, err)
			}
			return
		}
		if !bytes.HasPrefix(der, sd.Raw) {
			t.Fatalf("Raw is not a prefix of the input")
		}
		for i := range sd.Signers {
			si := &sd.Signers[i]
			_ = sd.SignerCertificate(si)
			digest := sha256.Sum256(der)
			if si.Verify(k.Cert, digest[:]) == nil {
				t.Fatalf("a fuzzed signature verified against an unrelated key")
			}
			for _, c := range sd.Certificates {
				_ = si.Verify(c, digest[:]) // must not panic
			}
		}
	})
}
