package pkggen

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// DSC returns the unsigned .dsc that dpkg-source -b writes for src when
// its only file is tarName with content tarData (the compressed tarball):
// src's fields in dpkg's order, then Checksums-Sha1, Checksums-Sha256 and
// Files (MD5) with one " <hex> <size> <name>" line each. The text ends
// with a newline and has no OpenPGP armour.
func DSC(src *Source, tarName string, tarData []byte) ([]byte, error) {
	if src == nil || src.fields == nil {
		return nil, fmt.Errorf("dsc: source not read by ReadSource")
	}
	if !validPrefix(tarName) || strings.ContainsAny(tarName, perlSpace) {
		return nil, fmt.Errorf("dsc: tarball name %q: %w", tarName, ErrUnsafePath)
	}
	f := src.fields.clone()
	line := func(h hash.Hash) string {
		h.Write(tarData)
		return fmt.Sprintf("\n%s %d %s", hex.EncodeToString(h.Sum(nil)), len(tarData), tarName)
	}
	f.set("Checksums-Sha1", line(sha1.New()))
	f.set("Checksums-Sha256", line(sha256.New()))
	f.set("Files", line(md5.New()))
	return []byte(f.output()), nil
}
