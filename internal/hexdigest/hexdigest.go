// Package hexdigest checks digests written as text: the SHA-256
// fingerprints and hashes of policy files and audit logs.
package hexdigest

// IsSHA256 reports whether s is a SHA-256 in lower-case hex: 64 digits
// 0-9 and a-f, as encoding/hex writes it.
func IsSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
