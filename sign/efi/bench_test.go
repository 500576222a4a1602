package efi

import (
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
)

// BenchmarkDigest is the Authenticode digest of shim's fbx64.efi (about
// 90 KB): parse and hash.
func BenchmarkDigest(b *testing.B) {
	img := fixture(b, pairs[1].unsignedDeb, pairs[1].unsignedPath)
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		if _, err := Digest(img); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSign is one detached Authenticode signature with RSA-2048.
func BenchmarkSign(b *testing.B) {
	k := testutil.NewKey(b, 2048)
	img := fixture(b, pairs[1].unsignedDeb, pairs[1].unsignedPath)
	d, err := Digest(img)
	if err != nil {
		b.Fatal(err)
	}
	when := time.Unix(1700000000, 0)
	for b.Loop() {
		if _, err := Sign(k.Signer, k.Cert, d, when); err != nil {
			b.Fatal(err)
		}
	}
}
