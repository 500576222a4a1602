package efi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// fwupd returns a copy of Debian's unsigned fwupdx64.efi, a PE32+ image
// with 7 sections, e_lfanew 0x80 and trailing debug data.
func fwupd(t testing.TB) []byte {
	t.Helper()
	return bytes.Clone(fixture(t, pairs[0].unsignedDeb, pairs[0].unsignedPath))
}

// Header offsets in fwupdx64.efi.
const (
	fwPE       = 0x80
	fwCOFF     = fwPE + 4
	fwOpt      = fwCOFF + coffHeaderSize
	fwNumRva   = fwOpt + 108
	fwCertDir  = fwOpt + 112 + certDirIndex*dataDirEntrySize
	fwSections = fwOpt + 240
)

func put16(b []byte, off int, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
func put32(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }

func TestParseBadInput(t *testing.T) {
	t.Parallel()
	elf := append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 100)...)
	tests := []struct {
		name    string
		edit    func(b []byte) []byte
		notPE   bool   // the error must match ErrNotPE
		offset  int64  // the *inputerr.Error offset
		message string // a part of the message
	}{
		{"empty", func([]byte) []byte { return nil }, true, 0, "shorter than an MS-DOS header"},
		{"text", func([]byte) []byte { return []byte(strings.Repeat("Hello, world!\n", 10)) }, true, 0, "no MZ signature"},
		{"elf", func([]byte) []byte { return elf }, true, 0, "no MZ signature"},
		{"truncated in DOS header", func(b []byte) []byte { return b[:0x3e] }, true, 0, "shorter than an MS-DOS header"},
		{"truncated in PE header", func(b []byte) []byte { return b[:fwPE+10] }, true, 0x3c, "PE header would end past the end of the file"},
		{"truncated in optional header", func(b []byte) []byte { return b[:fwOpt+100] }, false, fwCOFF + 16, "optional header (240 bytes at 0x98) ends past the end"},
		{"truncated in section table", func(b []byte) []byte { return b[:fwSections+100] }, false, fwOpt + 60, "SizeOfHeaders: 0x400 is outside [0x130, 0x1ec]"},
		{"truncated in headers", func(b []byte) []byte { return b[:0x300] }, false, fwOpt + 60, "SizeOfHeaders"},
		{"truncated in sections", func(b []byte) []byte { return b[:0x5000] }, false, fwSections + 16, `section 0 (".text")`},
		{"e_lfanew past end", func(b []byte) []byte { put32(b, 0x3c, 0xfffffff0); return b }, true, 0x3c, "e_lfanew 0xfffffff0"},
		{"e_lfanew at zeros", func(b []byte) []byte { put32(b, 0x3c, 0x200); return b }, true, 0x200, "no PE signature"},
		{"bad magic", func(b []byte) []byte { put16(b, fwOpt, 0x10c); return b }, true, fwOpt, "unknown optional header magic 0x10c"},
		{"optional header too short", func(b []byte) []byte { put16(b, fwCOFF+16, 100); return b }, false, fwCOFF + 16, "shorter than the fixed part"},
		{"optional header without cert entry", func(b []byte) []byte { put16(b, fwCOFF+16, 112+4*8); return b }, false, fwCOFF + 16, "does not reach the certificate table entry"},
		{"optional header past end", func(b []byte) []byte { put16(b, fwCOFF+16, 0xffff); return b[:0x1000] }, false, fwCOFF + 16, "ends past the end of the file"},
		{"4 data directories", func(b []byte) []byte { put32(b, fwNumRva, 4); return b }, false, fwNumRva, "no certificate table entry"},
		{"SizeOfHeaders past end", func(b []byte) []byte { put32(b, fwOpt+60, 0x7fffffff); return b }, false, fwOpt + 60, "SizeOfHeaders: 0x7fffffff is outside"},
		{"SizeOfHeaders inside data directories", func(b []byte) []byte { put32(b, fwOpt+60, 0x100); return b }, false, fwOpt + 60, "outside"},
		{"absurd NumberOfSections", func(b []byte) []byte { put16(b, fwCOFF+2, 0xffff); return b }, false, fwCOFF + 2, "65535 is more than the limit of 96"},
		{"section table past end", func(b []byte) []byte { put16(b, fwCOFF+2, 96); return b[:0x1000] }, false, fwCOFF + 2, "96 section headers at 0x188 end past the end of the file"},
		{"section pointer past end", func(b []byte) []byte { put32(b, fwSections+40+20, 0xfffff000); return b }, false, fwSections + 40 + 16, `section 1 (".reloc"): raw data [0xfffff000, 0xfffff200) ends past the end`},
		{"section size past end", func(b []byte) []byte { put32(b, fwSections+2*40+16, 0xffffffff); return b }, false, fwSections + 2*40 + 16, `section 2 (".data")`},
		{"section over CheckSum", func(b []byte) []byte { put32(b, fwSections+20, fwOpt+60); put32(b, fwSections+16, 8); return b }, false, fwSections + 20, "overlaps the CheckSum field (0xd8)"},
		{"section over certificate entry", func(b []byte) []byte { put32(b, fwSections+20, fwCertDir+4); return b }, false, fwSections + 20, "overlaps the CheckSum field (0xd8) or the certificate table entry (0x128)"},
		// .reloc's raw data moved to start inside .text's.
		{"sections overlap", func(b []byte) []byte { put32(b, fwSections+40+20, le32(b, fwSections+20)+0x10); return b }, false, fwSections + 40 + 20,
			`section 1 (".reloc"): raw data [0x410, 0x610) overlaps that of section 0 (".text"), [0x400, 0x`},
		{"sections overlap, last runs to the end", func(b []byte) []byte {
			last := fwSections + 6*40
			put32(b, last+20, le32(b, fwSections+20))
			put32(b, last+16, uint32(len(b))-le32(b, fwSections+20))
			return b
		}, false, fwSections + 6*40 + 20, `overlaps that of section 0 (".text")`},
		{"cert table not at end", func(b []byte) []byte { put32(b, fwCertDir, 0x100); put32(b, fwCertDir+4, 8); return b }, false, fwCertDir, "certificate table"},
		{"cert table past end", func(b []byte) []byte { put32(b, fwCertDir, 0xf000); put32(b, fwCertDir+4, 0xffffffff); return b }, false, fwCertDir, "certificate table"},
		{"cert table over sections", func(b []byte) []byte {
			put32(b, fwCertDir, 0x1000)
			put32(b, fwCertDir+4, uint32(len(b)-0x1000))
			return b
		}, false, fwSections + 16, "ends past the end of the image data (0x1000)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := tt.edit(fwupd(t))
			img, err := Parse(b)
			if err == nil {
				t.Fatalf("Parse: got no error (image %+v), want one", img)
			}
			if got := errors.Is(err, ErrNotPE); got != tt.notPE {
				t.Errorf("errors.Is(%q, ErrNotPE) = %v, want %v", err, got, tt.notPE)
			}
			var ie *inputerr.Error
			if !errors.As(err, &ie) {
				t.Fatalf("error %q (%T) is not an *inputerr.Error", err, err)
			}
			if ie.Offset != tt.offset {
				t.Errorf("error %q: offset %#x, want %#x", err, ie.Offset, tt.offset)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not contain %q", err, tt.message)
			}
			// Every entry point parses first and so fails the same way.
			if _, err2 := Digest(b); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("Digest: got error %v, want %v", err2, err)
			}
			if _, err2 := Checksum(b); err2 == nil {
				t.Error("Checksum: got no error")
			}
			if _, err2 := Signatures(b); err2 == nil {
				t.Error("Signatures: got no error")
			}
			if err2 := Verify(b, nil, nil); err2 == nil {
				t.Error("Verify: got no error")
			}
		})
	}
}

// TestParseEveryTruncation cuts fwupdx64.efi at every length up to the
// end of its headers, and at every 0x100 bytes inside its sections: all
// must fail without a panic.
func TestParseEveryTruncation(t *testing.T) {
	t.Parallel()
	b := fwupd(t)
	const sectionsEnd = 0xc800
	for n := 0; n < sectionsEnd; n++ {
		if n > 0x400 && n%0x100 != 0 {
			continue
		}
		_, err := Parse(b[:n])
		if err == nil {
			t.Fatalf("Parse(first %#x bytes): got no error", n)
		}
		var ie *inputerr.Error
		if !errors.As(err, &ie) || ie.Offset < 0 {
			t.Fatalf("Parse(first %#x bytes): error %q has no offset", n, err)
		}
	}
	// The trailing debug data is not part of any section, so cutting it
	// off leaves a valid image.
	if _, err := Parse(b[:sectionsEnd]); err != nil {
		t.Errorf("Parse(sections only): %v", err)
	}
}

// TestSignaturesBadTable checks a certificate table whose entry lengths
// are wrong.
func TestSignaturesBadTable(t *testing.T) {
	t.Parallel()
	signed := fixture(t, pairs[0].signedDeb, pairs[0].signedPath)
	img, err := Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	for _, length := range []uint32{0, 7, uint32(img.certSize) + 1, 0xffffffff} {
		b := bytes.Clone(signed)
		put32(b, int(img.certOff), length)
		_, err := Signatures(b)
		var ie *inputerr.Error
		if !errors.As(err, &ie) || ie.Offset != img.certOff || !strings.Contains(err.Error(), "dwLength") {
			t.Errorf("dwLength %d: got error %v, want a dwLength error at offset %#x", length, err, img.certOff)
		}
		if _, err := Detach(b, 0); err == nil {
			t.Errorf("dwLength %d: Detach got no error", length)
		}
	}
	// A table with room for less than a header after the first entry.
	b := bytes.Clone(signed)
	put32(b, fwCertDir+4, uint32(img.certSize)+4)
	b = append(b, 0, 0, 0, 0)
	if _, err := Signatures(b); err == nil || !strings.Contains(err.Error(), "less than a header") {
		t.Errorf("short tail: got error %v, want one about less than a header", err)
	}
}

// TestDigestIgnoresChecksumAndTable checks the three header parts the
// digest leaves out: CheckSum, the certificate table entry, and the table.
func TestDigestIgnoresChecksumAndTable(t *testing.T) {
	t.Parallel()
	b := fwupd(t)
	want, err := Digest(b)
	if err != nil {
		t.Fatal(err)
	}
	put32(b, fwOpt+64, 0x12345678)
	img, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := img.attach([]byte("not a signature"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Digest(signed); err != nil || !bytes.Equal(got, want) {
		t.Errorf("Digest after changing CheckSum and adding a table = %x (err %v), want %x", got, err, want)
	}
	// Any other header byte counts.
	b[0x40] ^= 1
	if got, _ := Digest(b); bytes.Equal(got, want) {
		t.Error("Digest did not change with a byte of the DOS stub")
	}
}

// FuzzParse feeds raw bytes to Parse and every function that follows it.
// It checks that errors are input errors and that adding a certificate
// table round-trips. The seeds are the real binaries, shrunk: the fuzzer
// minimizes every new input it keeps, which takes minutes for 100 KB.
func FuzzParse(f *testing.F) {
	for _, p := range pairs[:2] {
		f.Add(shrink(f, fixture(f, p.unsignedDeb, p.unsignedPath)))
		f.Add(shrink(f, fixture(f, p.signedDeb, p.signedPath)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := Parse(b)
		// CheckHead is the start of Parse: what it refuses, Parse
		// refuses in the same words.
		if herr := CheckHead(b[:min(len(b), HeadSize)], int64(len(b))); herr != nil && (err == nil || err.Error() != herr.Error()) {
			t.Fatalf("CheckHead: %v, but Parse: %v", herr, err)
		}
		if err != nil {
			var ie *inputerr.Error
			if !errors.As(err, &ie) {
				t.Fatalf("Parse error %q (%T) is not an *inputerr.Error", err, err)
			}
			return
		}
		checkImage(t, img, b)
	})
}

// shrink returns a small image with b's headers, the first 64 bytes of
// each of its sections, 16 bytes of its trailing data and its certificate
// table.
func shrink(t testing.TB, b []byte) []byte {
	t.Helper()
	img, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(b[:img.sizeOfHeaders])
	coff := int64(le32(b, offLfanew)) + 4
	table := coff + coffHeaderSize + int64(le16(b, coff+16))
	for i := range int64(le16(b, coff+2)) {
		h := table + i*sectionSize
		ptr, size := int64(le32(b, h+20)), int64(le32(b, h+16))
		if size == 0 {
			continue
		}
		size = min(size, 64)
		put32(out, int(h+16), uint32(size))
		put32(out, int(h+20), uint32(len(out)))
		out = append(out, b[ptr:ptr+size]...)
	}
	out = append(out, bytes.Repeat([]byte{0xdb}, 16)...)
	if img.Signed() {
		out = append(out, make([]byte, align8(int64(len(out)))-int64(len(out)))...)
		put32(out, int(img.certDirOff), uint32(len(out)))
		out = append(out, b[img.certOff:]...)
	}
	if _, err := Parse(out); err != nil {
		t.Fatalf("shrunk image: %v", err)
	}
	return out
}

// FuzzDigest sets the header fields the digest depends on in a real image
// to fuzzed values. Raw-byte fuzzing rarely reaches a consistent header
// with one bad field; this does. Where debug/pe reads the headers too,
// the digest must equal referenceDigest's, written independently from the
// specification (checkImage).
func FuzzDigest(f *testing.F) {
	// fwupdx64.efi as it is.
	f.Add(uint32(fwPE), uint16(7), uint16(240), uint16(magicPE32Plus), uint32(16), uint32(0x400), uint32(0), uint32(0), uint8(0), uint32(0x400), uint32(0x7c00), uint32(61833))
	f.Add(uint32(fwPE), uint16(7), uint16(240), uint16(magicPE32), uint32(6), uint32(0x400), uint32(0xf198), uint32(8), uint8(6), uint32(0xc600), uint32(0x200), uint32(0xf000))
	// Gaps between sections: .sbat moved 0x200 bytes on (over the start of
	// the trailing data), and .text cut short by 0x200 bytes.
	f.Add(uint32(fwPE), uint16(7), uint16(240), uint16(magicPE32Plus), uint32(16), uint32(0x400), uint32(0), uint32(0), uint8(6), uint32(0xc800), uint32(0x200), uint32(61833))
	f.Add(uint32(fwPE), uint16(7), uint16(240), uint16(magicPE32Plus), uint32(16), uint32(0x400), uint32(0), uint32(0), uint8(0), uint32(0x400), uint32(0x7a00), uint32(61833))
	b := fixture(f, pairs[0].unsignedDeb, pairs[0].unsignedPath)
	f.Fuzz(func(t *testing.T, lfanew uint32, nsect, sizeOpt, magic uint16, numRva, sizeHdr, certOff, certSize uint32, sect uint8, ptr, size, length uint32) {
		b := bytes.Clone(b)
		if int(length) < len(b) {
			b = b[:length]
		}
		// Write each field only where it fits; the original header
		// stays where it is, so e_lfanew may point elsewhere.
		set32 := func(off int, v uint32) {
			if off >= 0 && off+4 <= len(b) {
				put32(b, off, v)
			}
		}
		set16 := func(off int, v uint16) {
			if off >= 0 && off+2 <= len(b) {
				put16(b, off, v)
			}
		}
		set32(0x3c, lfanew)
		set16(fwCOFF+2, nsect)
		set16(fwCOFF+16, sizeOpt)
		set16(fwOpt, magic)
		set32(fwNumRva, numRva)
		set32(fwOpt+60, sizeHdr)
		set32(fwCertDir, certOff)
		set32(fwCertDir+4, certSize)
		set32(fwSections+int(sect%8)*40+16, size)
		set32(fwSections+int(sect%8)*40+20, ptr)

		if _, err := Digest(b); err != nil {
			var ie *inputerr.Error
			if !errors.As(err, &ie) || ie.Offset < 0 {
				t.Fatalf("Digest error %q (%T) is not an *inputerr.Error with an offset", err, err)
			}
			return
		}
		img, err := Parse(b)
		if err != nil {
			t.Fatalf("Digest succeeded but Parse failed: %v", err)
		}
		checkImage(t, img, b)
	})
}

// checkImage runs everything that works on a parsed image and checks the
// digest against referenceDigest where debug/pe reads the image, and the
// round trips: a table added with attach is found by Signatures, does not
// change the digest, and Remove takes it away again.
func checkImage(t *testing.T, img *Image, b []byte) {
	t.Helper()
	digest := img.Digest()
	if want, err := referenceDigest(b); err == nil && !bytes.Equal(digest, want) {
		t.Fatalf("Digest = %x, referenceDigest (the specification's steps over debug/pe) = %x", digest, want)
	}
	img.Checksum()
	certs, err := img.Signatures()
	if err != nil {
		var ie *inputerr.Error
		if !errors.As(err, &ie) {
			t.Fatalf("Signatures error %q (%T) is not an *inputerr.Error", err, err)
		}
		return
	}
	for i, c := range certs {
		got, err := Detach(b, i)
		if err != nil || !bytes.Equal(got, c.Data) {
			t.Fatalf("Detach(%d) = %d bytes, %v; want the %d bytes Signatures found", i, len(got), err, len(c.Data))
		}
	}
	payload := []byte("fuzz signature")
	signed, err := img.attach(payload)
	if err != nil {
		return // the table would not fit in 32 bits
	}
	simg, err := Parse(signed)
	if err != nil {
		t.Fatalf("Parse after attach: %v", err)
	}
	if !bytes.Equal(simg.Digest(), digest) {
		t.Fatalf("attach changed the digest from %x to %x", digest, simg.Digest())
	}
	if simg.Checksum() != simg.StoredChecksum() {
		t.Fatalf("attach wrote checksum %#x, want %#x", simg.StoredChecksum(), simg.Checksum())
	}
	scerts, err := simg.Signatures()
	if err != nil {
		t.Fatalf("Signatures after attach: %v", err)
	}
	if len(scerts) != len(certs)+1 || !bytes.Equal(scerts[len(certs)].Data, payload) {
		t.Fatalf("after attach: %d signatures, want %d with the new one last", len(scerts), len(certs)+1)
	}
	removed, err := Remove(signed, len(certs))
	if err != nil {
		t.Fatalf("Remove after attach: %v", err)
	}
	rimg, err := Parse(removed)
	if err != nil {
		t.Fatalf("Parse after Remove: %v", err)
	}
	if !bytes.Equal(rimg.Digest(), digest) {
		t.Fatalf("Remove changed the digest from %x to %x", digest, rimg.Digest())
	}
}

// TestCheckHead: an image is refused from its first bytes when they are
// no MS-DOS header, point the PE header past the end or hold no PE
// signature where they point; a real image's head passes.
func TestCheckHead(t *testing.T) {
	t.Parallel()
	img := fixture(t, pairs[0].unsignedDeb, pairs[0].unsignedPath)
	head := img[:HeadSize]
	if err := CheckHead(head, int64(len(img))); err != nil {
		t.Errorf("fwupdx64.efi: %v", err)
	}
	lfanew := func(v uint32) []byte {
		b := bytes.Clone(head)
		put32(b, offLfanew, v)
		return b
	}
	for _, tc := range []struct {
		name string
		head []byte
		size int64
		want string
	}{
		{"zeros", make([]byte, HeadSize), 500 << 20, "no MZ signature"},
		{"short", img[:10], 10, "shorter than an MS-DOS header"},
		{"e_lfanew past the end", lfanew(0x7ffffff0), 500 << 20, "PE header would end past the end"},
		{"no PE signature", lfanew(0x44), 500 << 20, "no PE signature"},
	} {
		err := CheckHead(tc.head, tc.size)
		if err == nil || !errors.Is(err, ErrNotPE) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrNotPE saying %q", tc.name, err, tc.want)
		}
	}
}
