package debname

import (
	"errors"
	"regexp"
	"testing"
)

// policyName is Debian policy §5.6.1's package name as a regular
// expression: what ValidPackage must agree with.
var policyName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)

func TestValidPackage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		want bool
	}{
		{"fwupd-unsigned", true}, {"g++", true}, {"0ad", true}, {"shim-helpers-amd64-signed-template", true}, {"a.b", true},
		{"", false}, {"a", false}, {"Fwupd", false}, {"-x", false}, {"+x", false}, {".x", false}, {"a_b", false}, {"a b", false}, {"a/b", false},
	} {
		if got := ValidPackage(c.name); got != c.want {
			t.Errorf("ValidPackage(%q) = %v, want %v", c.name, got, c.want)
		}
	}
}

func FuzzValidPackage(f *testing.F) {
	for _, s := range []string{"fwupd-unsigned", "g++", "a", "", "A1", "-a", "a\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidPackage(s), policyName.MatchString(s); got != want {
			t.Fatalf("ValidPackage(%q) = %v, the policy's expression says %v", s, got, want)
		}
	})
}

func TestCleanPath(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"usr/lib/shim/fbx64.efi", "boot/vmlinuz-6.1.0-56-amd64", "a"} {
		if got, err := CleanPath(p); err != nil || got != p {
			t.Errorf("CleanPath(%q) = %q, %v; want it unchanged", p, got, err)
		}
	}
	for _, p := range []string{"", ".", "..", "../x", "a/../b", "/a", "./a", "a/", "a//b", "a/./b", "a\\b", "a\x00b"} {
		if _, err := CleanPath(p); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("CleanPath(%q): error %v, want ErrUnsafePath", p, err)
		}
	}
}
