package efi

// The PE image checksum (the optional header's CheckSum field), as
// Windows' CheckSumMappedFile and sbattach compute it. The PE Format
// specification names the field but not the algorithm.

// Checksum parses b and returns the PE checksum it should have.
func Checksum(b []byte) (uint32, error) {
	img, err := Parse(b)
	if err != nil {
		return 0, err
	}
	return img.Checksum(), nil
}

// Checksum returns the PE checksum the image should have: the 16-bit
// one's complement sum of the file as little-endian words, with the
// CheckSum field counted as zero, plus the file size.
func (img *Image) Checksum() uint32 {
	return peChecksum(img.data, img.checksumOff)
}

// peChecksum computes the PE checksum of b, whose CheckSum field is at
// off. Each word is added to a 64-bit sum; folding the carries back in at
// the end gives the same result as folding after every word.
func peChecksum(b []byte, off int64) uint32 {
	var sum uint64
	n := int64(len(b))
	for i := int64(0); i+1 < n; i += 2 {
		lo, hi := b[i], b[i+1]
		if i+1 >= off && i < off+4 {
			// The word overlaps the CheckSum field, which need not be
			// word-aligned if e_lfanew is odd.
			if i >= off {
				lo = 0
			}
			if i+1 < off+4 {
				hi = 0
			}
		}
		sum += uint64(lo) | uint64(hi)<<8
	}
	if n%2 == 1 && (n-1 < off || n-1 >= off+4) {
		sum += uint64(b[n-1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return uint32(sum) + uint32(n)
}
