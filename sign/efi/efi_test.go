package efi

import (
	"bytes"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
)

// TestDigestKnownAnswers checks the Authenticode digest of Debian's
// unsigned binaries against the digest inside Debian's signatures, and
// that a signed file has the same digest as its unsigned original.
func TestDigestKnownAnswers(t *testing.T) {
	t.Parallel()
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			unsigned := fixture(t, p.unsignedDeb, p.unsignedPath)
			signed := fixture(t, p.signedDeb, p.signedPath)

			got, err := Digest(unsigned)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != p.digest {
				t.Errorf("Digest(unsigned) = %x, want %s", got, p.digest)
			}
			got, err = Digest(signed)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != p.digest {
				t.Errorf("Digest(signed) = %x, want %s", got, p.digest)
			}

			sig, err := Detach(signed, 0)
			if err != nil {
				t.Fatal(err)
			}
			inSig, err := SignedDigest(sig)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(inSig) != p.digest {
				t.Errorf("SignedDigest(Debian's signature) = %x, want %s", inSig, p.digest)
			}
		})
	}
}

// TestAttachReproducesDebian attaches Debian's own signature to the
// unsigned binary and expects Debian's signed binary, byte for byte.
func TestAttachReproducesDebian(t *testing.T) {
	t.Parallel()
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			unsigned := fixture(t, p.unsignedDeb, p.unsignedPath)
			signed := fixture(t, p.signedDeb, p.signedPath)
			orig := bytes.Clone(unsigned)

			sig, err := Detach(signed, 0)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Attach(unsigned, sig)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, signed) {
				t.Errorf("Attach(unsigned, Debian's signature) differs from Debian's signed binary (got %d bytes, want %d; first difference at %#x)",
					len(got), len(signed), firstDiff(got, signed))
			}
			if !bytes.Equal(unsigned, orig) {
				t.Error("Attach modified its input")
			}
		})
	}
}

// TestChecksum checks the PE checksum against the one sbattach wrote into
// Debian's signed binaries.
func TestChecksum(t *testing.T) {
	t.Parallel()
	for _, p := range pairs {
		signed := fixture(t, p.signedDeb, p.signedPath)
		img, err := Parse(signed)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := img.Checksum(), img.StoredChecksum(); got != want || want == 0 {
			t.Errorf("%s: Checksum() = %#x, want the stored %#x (non-zero)", p.name, got, want)
		}
	}
}

// TestChecksumOddOffset checks that a CheckSum field at an odd offset (an
// odd e_lfanew) is left out of the sum as exactly 4 bytes.
func TestChecksumOddOffset(t *testing.T) {
	t.Parallel()
	b := []byte{1, 2, 3, 0xff, 0xff, 0xff, 0xff, 4, 5}
	zeroed := []byte{1, 2, 3, 0, 0, 0, 0, 4, 5}
	if got, want := peChecksum(b, 3), peChecksum(zeroed, 3); got != want {
		t.Errorf("peChecksum with field at 3 = %#x, want %#x", got, want)
	}
	// 0x0201 + 0x0003 + 0x0000 + 0x0400 + 0x05 + 9 bytes.
	if got, want := peChecksum(b, 3), uint32(0x0201+0x0003+0x0400+0x05+9); got != want {
		t.Errorf("peChecksum = %#x, want %#x", got, want)
	}
}

// TestDetachMatchesSbattach compares Detach with sbattach --detach.
func TestDetachMatchesSbattach(t *testing.T) {
	t.Parallel()
	sbattach := testutil.RequireTool(t, "sbattach")
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			signed := writeFile(t, dir, "signed.efi", fixture(t, p.signedDeb, p.signedPath))
			testutil.Run(t, dir, sbattach, "--detach", "sbattach.sig", signed)
			want := readFile(t, filepath.Join(dir, "sbattach.sig"))
			got, err := Detach(readFile(t, signed), 0)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Detach: got %d bytes, sbattach --detach wrote %d; first difference at %#x", len(got), len(want), firstDiff(got, want))
			}
		})
	}
}

// TestSecondSignatureMatchesSbattach adds a second signature to Debian's
// signed fwupd and removes either one, with sbattach and with this package.
func TestSecondSignatureMatchesSbattach(t *testing.T) {
	t.Parallel()
	sbattach := testutil.RequireTool(t, "sbattach")
	p := pairs[0]
	key := testutil.NewKey(t, 2048)
	signed := fixture(t, p.signedDeb, p.signedPath)
	digest, err := Digest(signed)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Sign(key.Signer, key.Cert, digest, time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	sigPath := writeFile(t, dir, "new.sig", sig)
	two := writeFile(t, dir, "two.efi", signed)
	testutil.Run(t, dir, sbattach, "--attach", sigPath, two)
	want := readFile(t, two)
	got, err := Attach(signed, sig)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Attach to a signed image: got %d bytes, sbattach wrote %d; first difference at %#x", len(got), len(want), firstDiff(got, want))
	}
	certs, err := Signatures(got)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || !bytes.Equal(certs[1].Data, sig) {
		t.Fatalf("Signatures: got %d entries, want 2 with the new signature second", len(certs))
	}
	for _, c := range certs {
		if c.Revision != WinCertRevision2 || c.Type != WinCertTypePKCSSignedData || int(c.Length) != len(c.Data)+8 {
			t.Errorf("entry at %#x: revision %#x, type %#x, length %d for %d bytes of data", c.Offset, c.Revision, c.Type, c.Length, len(c.Data))
		}
	}

	for index := range 2 {
		path := writeFile(t, dir, "remove.efi", want)
		testutil.Run(t, dir, sbattach, "--remove", "--signum", []string{"1", "2"}[index], path)
		wantRemoved := readFile(t, path)
		gotRemoved, err := Remove(got, index)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(gotRemoved, wantRemoved) {
			t.Errorf("Remove(index %d): got %d bytes, sbattach --remove wrote %d; first difference at %#x",
				index, len(gotRemoved), len(wantRemoved), firstDiff(gotRemoved, wantRemoved))
		}
	}
	// Removing the second signature gives back Debian's file.
	if back, err := Remove(got, 1); err != nil || !bytes.Equal(back, signed) {
		t.Errorf("Remove(Attach(signed, sig), 1) is not Debian's signed file (err %v)", err)
	}
}

// TestRemoveMatchesSbattach removes Debian's only signature.
func TestRemoveMatchesSbattach(t *testing.T) {
	t.Parallel()
	sbattach := testutil.RequireTool(t, "sbattach")
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			signed := fixture(t, p.signedDeb, p.signedPath)
			path := writeFile(t, dir, "signed.efi", signed)
			testutil.Run(t, dir, sbattach, "--remove", path)
			want := readFile(t, path)
			got, err := Remove(signed, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Remove: got %d bytes, sbattach --remove wrote %d; first difference at %#x", len(got), len(want), firstDiff(got, want))
			}
			if _, err := Detach(got, 0); !errors.Is(err, ErrNotSigned) {
				t.Errorf("Detach after Remove: got error %v, want ErrNotSigned", err)
			}
		})
	}
}

// TestNotSigned checks the errors for an image without signatures.
func TestNotSigned(t *testing.T) {
	t.Parallel()
	unsigned := fixture(t, pairs[0].unsignedDeb, pairs[0].unsignedPath)
	if _, err := Detach(unsigned, 0); !errors.Is(err, ErrNotSigned) {
		t.Errorf("Detach(unsigned): got error %v, want ErrNotSigned", err)
	}
	if _, err := Remove(unsigned, 0); !errors.Is(err, ErrNotSigned) {
		t.Errorf("Remove(unsigned): got error %v, want ErrNotSigned", err)
	}
	signed := fixture(t, pairs[0].signedDeb, pairs[0].signedPath)
	for _, index := range []int{-1, 1} {
		if _, err := Detach(signed, index); !errors.Is(err, ErrNotSigned) {
			t.Errorf("Detach(signed, %d): got error %v, want ErrNotSigned", index, err)
		}
	}
}

// firstDiff returns the first offset where a and b differ.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
