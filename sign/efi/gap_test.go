package efi

import (
	"bytes"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// Where gapImage puts its gap: fwupdx64.efi's last section (.sbat, 0x200
// bytes at 0xc600) moves 0x200 bytes on, and the COFF symbol table after
// it (PointerToSymbolTable 0xc800) moves with it.
const (
	gapAt       = 0xc600
	gapSize     = 0x200
	gapSection  = 6
	fwSymbolPtr = fwCOFF + 8
)

// gapDigest is the Authenticode digest of gapImage as sbsign 0.9.4 signs
// it (the digest in its SpcIndirectDataContent, which osslsigncode verify
// shows as "Current message digest"). TestGapWithRealTools checks it
// against sbsign again.
const gapDigest = "6303b40f1000e1c718371ec1379fb833cbf3ac56954e8314a05f4eb381cc0e55"

// gapImage returns Debian's unsigned fwupdx64.efi with a gap between its
// last two sections: 0x200 bytes of 0xcc inserted before .sbat, whose
// PointerToRawData moves forward to match, as does the symbol table's;
// the PE checksum is recomputed. The image stays valid (objdump reads it,
// the sections' contents and RVAs are unchanged), but now SizeOfHeaders +
// the sum of SizeOfRawData (0xc800) lies 0x200 bytes before the end of
// the last section (0xca00), and the Authenticode specification measures
// the trailing data from the first.
func gapImage(t testing.TB) []byte {
	t.Helper()
	b := fwupd(t)
	h := fwSections + gapSection*sectionSize
	if name := string(b[h : h+5]); name != ".sbat" || le32(b, int64(h+20)) != gapAt || le32(b, fwSymbolPtr) != gapAt+gapSize {
		t.Fatalf("fwupdx64.efi: section %d is %q at %#x, symbol table at %#x: not the layout gapImage expects", gapSection, name, le32(b, int64(h+20)), le32(b, fwSymbolPtr))
	}
	put32(b, h+20, gapAt+gapSize)
	put32(b, fwSymbolPtr, gapAt+2*gapSize)
	b = append(b[:gapAt], append(bytes.Repeat([]byte{0xcc}, gapSize), b[gapAt:]...)...)
	put32(b, fwOpt+64, peChecksum(b, fwOpt+64))
	return b
}

// TestDigestGap: trailing data is measured from SizeOfHeaders + the sum
// of the sections' SizeOfRawData, not from the end of the last section;
// the bytes of the gap are not hashed, those between that sum and the end
// of the last section are (twice).
func TestDigestGap(t *testing.T) {
	t.Parallel()
	b := gapImage(t)
	img, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(gap image): %v", err)
	}
	last, prev := img.sections[len(img.sections)-1], img.sections[len(img.sections)-2]
	if last.ptr != prev.ptr+prev.size+gapSize {
		t.Fatalf("sections end at %#x and start at %#x: no gap of %#x", prev.ptr+prev.size, last.ptr, gapSize)
	}
	if img.Checksum() != img.StoredChecksum() {
		t.Errorf("gap image: stored checksum %#x, want %#x", img.StoredChecksum(), img.Checksum())
	}
	got := img.Digest()
	if hex.EncodeToString(got) != gapDigest {
		t.Errorf("Digest(gap image) = %x, want sbsign's %s", got, gapDigest)
	}

	inGap := bytes.Clone(b)
	inGap[gapAt+7] ^= 0xff
	if d, err := Digest(inGap); err != nil || !bytes.Equal(d, got) {
		t.Errorf("a changed byte in the gap changed the digest to %x (err %v); the gap is not hashed", d, err)
	}
	// The first trailing byte the specification hashes lies in .sbat, now
	// at 0xc800; the end of the last section is 0xca00.
	inSbat := bytes.Clone(b)
	inSbat[gapAt+gapSize+1] ^= 0xff
	if d, _ := Digest(inSbat); bytes.Equal(d, got) {
		t.Error("a changed byte of .sbat did not change the digest")
	}
}

// TestGapWithRealTools signs the gap image with sbsign, and requires that
// mksigned computes sbsign's digest, that Detach, Verify and Attach take
// sbsign's signature (Attach giving sbsign's bytes), and that sbverify
// accepts mksigned's own signature attached to it.
//
// osslsigncode is left out on purpose: 2.9 hashes the whole file but the
// CheckSum field and the certificate table entry, in file order, gap
// included (its "Calculated message digest" for this image is that hash,
// 9b99f194…), so it reports MISMATCH for sbsign's signature of this
// image, as for ours.
func TestGapWithRealTools(t *testing.T) {
	t.Parallel()
	sbsign := testutil.RequireTool(t, "sbsign")
	sbverify := testutil.RequireTool(t, "sbverify")
	key := testutil.NewKey(t, 2048)
	dir := t.TempDir()
	unsigned := gapImage(t)
	unsignedPath := writeFile(t, dir, "gap.efi", unsigned)

	testutil.Run(t, dir, sbsign, "--key", key.KeyPath, "--cert", key.CertPath, "--output", "sbsign.efi", unsignedPath)
	sbsigned := readFile(t, filepath.Join(dir, "sbsign.efi"))
	sig, err := Detach(sbsigned, 0)
	if err != nil {
		t.Fatalf("Detach(sbsign's output): %v", err)
	}
	sbDigest, err := SignedDigest(sig)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := Digest(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(digest, sbDigest) {
		t.Errorf("Digest = %x, sbsign signed %x", digest, sbDigest)
	}
	if hex.EncodeToString(sbDigest) != gapDigest {
		t.Errorf("sbsign signed %x, gapDigest is %s", sbDigest, gapDigest)
	}
	if err := Verify(unsigned, sig, key.Cert); err != nil {
		t.Errorf("Verify(gap image, sbsign's signature): %v", err)
	}
	if err := Verify(sbsigned, sig, key.Cert); err != nil {
		t.Errorf("Verify(sbsign's output, its signature): %v", err)
	}
	attached, err := Attach(unsigned, sig)
	if err != nil {
		t.Fatalf("Attach(gap image, sbsign's signature): %v", err)
	}
	if !bytes.Equal(attached, sbsigned) {
		t.Errorf("Attach of sbsign's signature: %d bytes, sbsign wrote %d; first difference at %#x", len(attached), len(sbsigned), firstDiff(attached, sbsigned))
	}

	ours, err := Sign(key.Signer, key.Cert, digest, signingTime)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := Attach(unsigned, ours)
	if err != nil {
		t.Fatal(err)
	}
	signedPath := writeFile(t, dir, "signed.efi", signed)
	testutil.Run(t, dir, sbverify, "--cert", key.CertPath, signedPath)
	testutil.Run(t, dir, sbverify, "--cert", key.CertPath, "--detached", writeFile(t, dir, "ours.sig", ours), unsignedPath)
	if err := Verify(signed, ours, key.Cert); err != nil {
		t.Errorf("Verify(signed gap image): %v", err)
	}

	// A byte the specification hashes, in .sbat between SizeOfHeaders +
	// the sum of the sections and the end of the last section: both
	// sbverify and Verify must refuse it.
	tampered := bytes.Clone(signed)
	tampered[gapAt+gapSize+1] ^= 0xff
	tamperedPath := writeFile(t, dir, "tampered.efi", tampered)
	if out := runFail(t, dir, sbverify, "--cert", key.CertPath, tamperedPath); !strings.Contains(out, "fails hash check") {
		t.Errorf("sbverify on the tampered image failed, but not with a hash check:\n%s", out)
	}
	var mismatch *DigestMismatchError
	if err := Verify(tampered, ours, key.Cert); !errors.As(err, &mismatch) {
		t.Errorf("Verify(tampered gap image): got %v, want a *DigestMismatchError", err)
	}
}
