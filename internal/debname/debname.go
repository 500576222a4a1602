// Package debname holds the rules for names that come from templates,
// packages and signing requests: Debian package names and the paths of
// files inside a package. Every reader of such a name checks it here, so
// that files.json, a .deb and a signing request agree on what is valid.
package debname

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// ErrUnsafePath marks a path that is absolute or leaves its tree.
var ErrUnsafePath = errors.New("unsafe path")

// ValidPackage follows Debian policy §5.6.7: lower case letters, digits,
// '+', '-', '.', at least two characters, starting alphanumeric. Source
// package names follow the same rule (§5.6.1).
func ValidPackage(s string) bool {
	if len(s) < 2 {
		return false
	}
	for i, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// CleanPath checks a path taken from a template, package or request and
// returns it. It must be clean, relative and slash-separated, as Debian's
// entries are ("usr/lib/shim/fbx64.efi"): a leading "/" or "./", "..",
// "//", "." or a trailing "/" is refused, not cleaned, so that every
// reader of the file names the same path. Errors wrap ErrUnsafePath.
func CleanPath(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%w: empty path", ErrUnsafePath)
	}
	if strings.ContainsAny(p, "\x00\\") {
		return "", fmt.Errorf("%w: %q contains a NUL or backslash", ErrUnsafePath, p)
	}
	if strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%w: %q is absolute", ErrUnsafePath, p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", fmt.Errorf("%w: %q contains \"..\"", ErrUnsafePath, p)
		}
	}
	c := path.Clean(p)
	if c == "." {
		return "", fmt.Errorf("%w: %q names no file", ErrUnsafePath, p)
	}
	if c != p {
		return "", fmt.Errorf("%w: %q is not a clean path (write it %q)", ErrUnsafePath, p, c)
	}
	return c, nil
}
