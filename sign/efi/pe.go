// Package efi signs PE/COFF images (UEFI applications, shim, GRUB, the
// Linux EFI stub) with Authenticode, the way Debian's signing service and
// sbsigntool do, for files.json's sig_type "efi".
//
// The steps are separate so that a signer which only ever sees digests
// can be put in between: Parse and Digest an image, Sign the digest,
// Attach the signature to the image. Detach and Remove undo Attach, and
// Verify checks a signature against an image.
//
// Formats: Windows Authenticode Portable Executable Signature Format
// (https://download.microsoft.com/download/9/c/5/9c5b2167-8017-4bae-9fde-d599bac8184a/Authenticode_PE.docx)
// and the PE Format specification
// (https://learn.microsoft.com/en-us/windows/win32/debug/pe-format).
// Where the two and the tools disagree, this package follows sbsigntool
// 0.9.4 (sbsign, sbattach, sbverify), because Debian's signed packages
// match it byte for byte.
package efi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// ErrNotPE means the input is not a PE/COFF image at all: no MZ header, no
// "PE\0\0" signature where e_lfanew points, or an unknown optional header
// magic. Use errors.Is to test for it.
var ErrNotPE = errors.New("not a PE/COFF image")

// Offsets and sizes from the PE Format specification.
const (
	dosHeaderSize    = 0x40 // IMAGE_DOS_HEADER
	offLfanew        = 0x3c // e_lfanew in the DOS header
	coffHeaderSize   = 20   // IMAGE_FILE_HEADER
	sectionSize      = 40   // IMAGE_SECTION_HEADER
	dataDirEntrySize = 8    // IMAGE_DATA_DIRECTORY: VirtualAddress, Size
	certDirIndex     = 4    // the certificate table (IMAGE_DIRECTORY_ENTRY_SECURITY)

	// Offsets inside the optional header, the same for PE32 and PE32+.
	optSizeOfHeaders = 60
	optCheckSum      = 64

	magicPE32     = 0x10b
	magicPE32Plus = 0x20b

	// maxSections is the Windows loader's limit on NumberOfSections. No
	// real EFI binary comes close; more means a corrupt header.
	maxSections = 96
)

// Image is a parsed PE/COFF image: the header fields the Authenticode
// digest, the PE checksum and the certificate table depend on, each one
// checked against the size of the file. It keeps a reference to the bytes
// passed to Parse, which must not change afterwards.
type Image struct {
	data []byte

	// Magic is the optional header magic: 0x10b (PE32) or 0x20b (PE32+).
	Magic uint16

	checksumOff   int64     // the CheckSum field in the optional header
	certDirOff    int64     // DataDirectory[4], the certificate table entry
	sizeOfHeaders int64     // SizeOfHeaders
	sections      []section // sections with raw data, sorted by PointerToRawData
	certOff       int64     // certificate table; 0 and 0 when there is none
	certSize      int64
}

// section is the part of a section header the digest uses.
type section struct {
	headerOff int64 // where the section header is, for error messages
	ptr, size int64 // PointerToRawData, SizeOfRawData
}

// Parse checks that b is a PE32 or PE32+ image whose headers, sections and
// certificate table all lie inside b, and returns their offsets. Errors are
// *inputerr.Error values with the offset of the bad field; those that mean
// b is no PE image at all also match ErrNotPE.
func Parse(b []byte) (*Image, error) {
	size := int64(len(b))
	img := &Image{data: b}
	pe, err := parseHead(b, size)
	if err != nil {
		return nil, err
	}
	coff := pe + 4
	nsect := int64(le16(b, coff+2))
	sizeOfOpt := int64(le16(b, coff+16))
	opt := coff + coffHeaderSize
	if opt+sizeOfOpt > size {
		return nil, badField(coff+16, "SizeOfOptionalHeader", "optional header (%d bytes at %#x) ends past the end of the file (size %#x)", sizeOfOpt, opt, size)
	}
	if sizeOfOpt < 2 {
		return nil, badField(coff+16, "SizeOfOptionalHeader", "%d bytes is too short to hold the magic", sizeOfOpt)
	}
	img.Magic = le16(b, opt)
	var offNumRva, offDataDir int64
	switch img.Magic {
	case magicPE32:
		offNumRva, offDataDir = 92, 96
	case magicPE32Plus:
		offNumRva, offDataDir = 108, 112
	default:
		return nil, notPE(opt, "unknown optional header magic %#x (want %#x or %#x)", img.Magic, magicPE32, magicPE32Plus)
	}
	if sizeOfOpt < offDataDir {
		return nil, badField(coff+16, "SizeOfOptionalHeader", "%d bytes is shorter than the fixed part of the optional header (%d)", sizeOfOpt, offDataDir)
	}
	// The kernel's EFI stub has only 6 data directories, so do not expect 16.
	numRva := int64(le32(b, opt+offNumRva))
	if numRva <= certDirIndex {
		return nil, badField(opt+offNumRva, "NumberOfRvaAndSizes", "%d: there is no certificate table entry (DataDirectory[%d])", numRva, certDirIndex)
	}
	img.checksumOff = opt + optCheckSum
	img.certDirOff = opt + offDataDir + certDirIndex*dataDirEntrySize
	if img.certDirOff+dataDirEntrySize > opt+sizeOfOpt {
		return nil, badField(coff+16, "SizeOfOptionalHeader", "%d bytes does not reach the certificate table entry at %#x", sizeOfOpt, img.certDirOff)
	}

	img.sizeOfHeaders = int64(le32(b, opt+optSizeOfHeaders))
	if img.sizeOfHeaders < img.certDirOff+dataDirEntrySize || img.sizeOfHeaders > size {
		return nil, badField(opt+optSizeOfHeaders, "SizeOfHeaders", "%#x is outside [%#x, %#x] (end of the certificate table entry, file size)", img.sizeOfHeaders, img.certDirOff+dataDirEntrySize, size)
	}

	// The certificate table holds a file offset, not an RVA, and must be
	// the last thing in the file: everything before it is hashed.
	img.certOff = int64(le32(b, img.certDirOff))
	img.certSize = int64(le32(b, img.certDirOff+4))
	end := size
	if img.certSize != 0 {
		if img.certOff < img.sizeOfHeaders || img.certOff+img.certSize != size {
			return nil, badField(img.certDirOff, "certificate table", "%d bytes at %#x: want a table that ends at the end of the file (size %#x) and starts after the headers (%#x)", img.certSize, img.certOff, size, img.sizeOfHeaders)
		}
		end = img.certOff
	}

	if nsect > maxSections {
		return nil, badField(coff+2, "NumberOfSections", "%d is more than the limit of %d", nsect, maxSections)
	}
	sectTable := opt + sizeOfOpt
	if sectTable+nsect*sectionSize > size {
		return nil, badField(coff+2, "NumberOfSections", "%d section headers at %#x end past the end of the file (size %#x)", nsect, sectTable, size)
	}
	for i := range nsect {
		h := sectTable + i*sectionSize
		s := section{headerOff: h, size: int64(le32(b, h+16)), ptr: int64(le32(b, h+20))}
		if s.size == 0 {
			continue
		}
		if s.ptr+s.size > end {
			return nil, badField(h+16, fmt.Sprintf("section %d (%s)", i, sectionName(b[h:h+8])),
				"raw data [%#x, %#x) ends past the end of the image data (%#x)", s.ptr, s.ptr+s.size, end)
		}
		// Raw data over the fields that signing rewrites would make the
		// digest change when the signature is attached.
		if s.ptr < img.checksumOff+4 && s.ptr+s.size > img.checksumOff ||
			s.ptr < img.certDirOff+dataDirEntrySize && s.ptr+s.size > img.certDirOff {
			return nil, badField(h+20, fmt.Sprintf("section %d (%s)", i, sectionName(b[h:h+8])),
				"raw data [%#x, %#x) overlaps the CheckSum field (%#x) or the certificate table entry (%#x)", s.ptr, s.ptr+s.size, img.checksumOff, img.certDirOff)
		}
		img.sections = append(img.sections, s)
	}
	// Authenticode hashes sections in file order, not table order. Keep
	// the table order among equal pointers, as sbsign's sort does in
	// practice for the images we have.
	slices.SortStableFunc(img.sections, func(x, y section) int {
		switch {
		case x.ptr < y.ptr:
			return -1
		case x.ptr > y.ptr:
			return 1
		}
		return 0
	})
	// Overlapping raw data is hashed twice, and tools disagree on it:
	// osslsigncode reports a digest mismatch on what sbsign signs, and
	// sbattach truncates such an image. No linker writes it.
	for i := 1; i < len(img.sections); i++ {
		prev, s := img.sections[i-1], img.sections[i]
		if s.ptr < prev.ptr+prev.size {
			return nil, badField(s.headerOff+20, fmt.Sprintf("section %d (%s)", (s.headerOff-sectTable)/sectionSize, sectionName(b[s.headerOff:s.headerOff+8])),
				"raw data [%#x, %#x) overlaps that of section %d (%s), [%#x, %#x)", s.ptr, s.ptr+s.size,
				(prev.headerOff-sectTable)/sectionSize, sectionName(b[prev.headerOff:prev.headerOff+8]), prev.ptr, prev.ptr+prev.size)
		}
	}
	return img, nil
}

// Signed reports whether the image has a certificate table.
func (img *Image) Signed() bool { return img.certSize != 0 }

// StoredChecksum returns the CheckSum field of the optional header.
func (img *Image) StoredChecksum() uint32 { return le32(img.data, img.checksumOff) }

// sectionName returns the 8-byte section name up to its first NUL, quoted.
func sectionName(b []byte) string {
	if i := slices.Index(b, 0); i >= 0 {
		b = b[:i]
	}
	return fmt.Sprintf("%q", b)
}

// HeadSize is how much of an image CheckHead looks at: the MS-DOS header
// and, where e_lfanew points in it (0x40 to 0x100 in real images), the PE
// signature.
const HeadSize = 4096

// CheckHead makes the first checks Parse would make of a size-byte image,
// given its first min(size, HeadSize) bytes: that it starts with an MS-DOS
// header whose e_lfanew leaves room for the PE headers and, when it
// points into head, that the PE signature is there. A reader can refuse
// what is no PE image before it holds the rest. The errors are Parse's.
func CheckHead(head []byte, size int64) error {
	if int64(len(head)) < min(size, HeadSize) {
		return fmt.Errorf("CheckHead: %d bytes of a %d-byte image, want %d", len(head), size, min(size, HeadSize))
	}
	_, err := parseHead(head, size)
	return err
}

// parseHead checks the MS-DOS header and the PE signature of a size-byte
// image whose first bytes are b, as far as b goes, and returns the offset
// of the PE signature.
func parseHead(b []byte, size int64) (int64, error) {
	if size < dosHeaderSize {
		return 0, notPE(0, "file is %d bytes, shorter than an MS-DOS header (%d)", size, dosHeaderSize)
	}
	if b[0] != 'M' || b[1] != 'Z' {
		return 0, notPE(0, "no MZ signature (got % x)", b[:2])
	}
	pe := int64(le32(b, offLfanew))
	if pe+4+coffHeaderSize > size {
		return 0, notPE(offLfanew, "e_lfanew %#x: PE header would end past the end of the file (size %#x)", pe, size)
	}
	if pe+4 <= int64(len(b)) && string(b[pe:pe+4]) != "PE\x00\x00" {
		return 0, notPE(pe, "no PE signature (got %q)", b[pe:pe+4])
	}
	return pe, nil
}

func le16(b []byte, off int64) uint16 { return binary.LittleEndian.Uint16(b[off:]) }
func le32(b []byte, off int64) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

// notPE returns an input error at off that matches ErrNotPE.
func notPE(off int64, format string, args ...any) error {
	return &inputerr.Error{Offset: off, Err: fmt.Errorf("%w: "+format, append([]any{ErrNotPE}, args...)...)}
}

// badField returns an input error about the header field at off.
func badField(off int64, field, format string, args ...any) error {
	return &inputerr.Error{Offset: off, Field: field, Err: fmt.Errorf(format, args...)}
}
