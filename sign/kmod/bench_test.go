package kmod

import (
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// BenchmarkDigestAndSign is one module signature as generate makes it:
// SHA-256 of Debian's dummy.ko and an RSA-2048 PKCS#7.
func BenchmarkDigestAndSign(b *testing.B) {
	k := testutil.NewKey(b, 2048)
	_, module := debianModule(b)
	b.SetBytes(int64(len(module)))
	for b.Loop() {
		d, err := Digest(module)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Sign(k.Signer, k.Cert, d); err != nil {
			b.Fatal(err)
		}
	}
}
