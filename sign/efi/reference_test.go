package efi

import (
	"bytes"
	"crypto/sha256"
	"debug/pe"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"testing"
)

// referenceDigest is an oracle for Digest, written again from the steps of
// "Calculating the PE Image Hash" in the Authenticode PE specification,
// with the headers read by the standard library's debug/pe rather than by
// Parse. It shares no code with digest.go or pe.go. The one thing it takes
// from sbsign rather than from the specification is that the image is
// seen padded with zeros to a multiple of 8 bytes before the certificate
// table. It returns an error where debug/pe cannot read the headers
// (debug/pe is stricter than Parse: SizeOfOptionalHeader must fit
// NumberOfRvaAndSizes exactly) or where an offset lies outside b; there
// the oracle does not apply.
func referenceDigest(b []byte) ([]byte, error) {
	f, err := pe.NewFile(bytes.NewReader(forDebugPE(b)))
	if err != nil {
		return nil, err
	}
	if len(b) < 0x40 {
		return nil, errors.New("no DOS header")
	}
	optStart := int64(binary.LittleEndian.Uint32(b[0x3c:])) + 4 + 20 // "PE\0\0", then the COFF file header
	var (
		sizeOfHeaders int64
		certEntry     int64 // file offset of DataDirectory[IMAGE_DIRECTORY_ENTRY_SECURITY]
		certTable     pe.DataDirectory
	)
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader32:
		if oh.NumberOfRvaAndSizes <= pe.IMAGE_DIRECTORY_ENTRY_SECURITY {
			return nil, errors.New("no certificate table entry")
		}
		sizeOfHeaders, certTable = int64(oh.SizeOfHeaders), oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_SECURITY]
		certEntry = optStart + 96 + 8*pe.IMAGE_DIRECTORY_ENTRY_SECURITY
	case *pe.OptionalHeader64:
		if oh.NumberOfRvaAndSizes <= pe.IMAGE_DIRECTORY_ENTRY_SECURITY {
			return nil, errors.New("no certificate table entry")
		}
		sizeOfHeaders, certTable = int64(oh.SizeOfHeaders), oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_SECURITY]
		certEntry = optStart + 112 + 8*pe.IMAGE_DIRECTORY_ENTRY_SECURITY
	default:
		return nil, errors.New("no optional header")
	}
	checksum := optStart + 64

	// The image as sbsign hashes it: without the certificate table, padded
	// with zeros to a multiple of 8.
	size := int64(len(b)) - int64(certTable.Size)
	if size < 0 {
		return nil, errors.New("certificate table larger than the file")
	}
	image := append(bytes.Clone(b[:size]), make([]byte, (8-size%8)%8)...)
	fileSize := int64(len(image))
	part := func(lo, hi int64) ([]byte, error) {
		if lo < 0 || lo > hi || hi > fileSize {
			return nil, fmt.Errorf("[%#x, %#x) is outside the image (%#x bytes)", lo, hi, fileSize)
		}
		return image[lo:hi], nil
	}

	h := sha256.New()
	// Steps 3 to 7: the headers up to SizeOfHeaders, less the CheckSum
	// field and the Certificate Table entry.
	for _, r := range [][2]int64{{0, checksum}, {checksum + 4, certEntry}, {certEntry + 8, sizeOfHeaders}} {
		p, err := part(r[0], r[1])
		if err != nil {
			return nil, err
		}
		h.Write(p)
	}
	// Step 8.
	sumOfBytesHashed := sizeOfHeaders
	// Steps 9 and 10: the sections with raw data, by PointerToRawData.
	var sections []*pe.Section
	for _, s := range f.Sections {
		if s.Size != 0 {
			sections = append(sections, s)
		}
	}
	sort.SliceStable(sections, func(i, j int) bool { return sections[i].Offset < sections[j].Offset })
	// Steps 11 to 13.
	for _, s := range sections {
		p, err := part(int64(s.Offset), int64(s.Offset)+int64(s.Size))
		if err != nil {
			return nil, err
		}
		h.Write(p)
		sumOfBytesHashed += int64(s.Size)
	}
	// Step 14: "If FILE_SIZE is greater than SUM_OF_BYTES_HASHED, the file
	// contains extra data that must be added to the hash. This data begins
	// at the SUM_OF_BYTES_HASHED file offset." (The certificate table is
	// already cut off.)
	if fileSize > sumOfBytesHashed {
		h.Write(image[sumOfBytesHashed:])
	}
	return h.Sum(nil), nil
}

// forDebugPE returns a copy of b that debug/pe reads without looking at
// anything the digest does not depend on: no COFF symbol table (a
// truncated image has lost it) and no section names in the string table.
// Offsets and sizes stay as they are.
func forDebugPE(b []byte) []byte {
	b = bytes.Clone(b)
	if len(b) < 0x40 {
		return b
	}
	coff := int64(binary.LittleEndian.Uint32(b[0x3c:])) + 4
	if coff+20 > int64(len(b)) {
		return b
	}
	clear(b[coff+8 : coff+16]) // PointerToSymbolTable, NumberOfSymbols
	table := coff + 20 + int64(binary.LittleEndian.Uint16(b[coff+16:]))
	for i := range int64(binary.LittleEndian.Uint16(b[coff+2:])) {
		if h := table + 40*i; h+40 <= int64(len(b)) && b[h] == '/' {
			b[h] = '_'
		}
	}
	return b
}

// TestReferenceDigest checks the oracle itself against the digests that
// Debian's signatures and sbsign hold.
func TestReferenceDigest(t *testing.T) {
	t.Parallel()
	images := map[string][]byte{"gap": gapImage(t)}
	want := map[string]string{"gap": gapDigest}
	for _, p := range pairs {
		images[p.name+" unsigned"] = fixture(t, p.unsignedDeb, p.unsignedPath)
		images[p.name+" signed"] = fixture(t, p.signedDeb, p.signedPath)
		want[p.name+" unsigned"], want[p.name+" signed"] = p.digest, p.digest
	}
	for name, b := range images {
		got, err := referenceDigest(b)
		if err != nil {
			t.Errorf("%s: referenceDigest: %v", name, err)
			continue
		}
		if hex.EncodeToString(got) != want[name] {
			t.Errorf("%s: referenceDigest = %x, want %s", name, got, want[name])
		}
	}
}
