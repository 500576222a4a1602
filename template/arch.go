package template

import (
	"errors"
	"fmt"
	"strings"
)

// archTuples maps each Debian architecture mksigned knows to its dpkg
// tuple: ABI, libc, OS and CPU (dpkg's /usr/share/dpkg/tupletable, as
// `dpkg-architecture -a ARCH -q DEB_HOST_ARCH_{ABI,LIBC,OS,CPU}` prints
// it; arch_test.go checks every entry against dpkg-architecture). These are
// Debian's release and ports architectures.
var archTuples = map[string][4]string{
	"alpha":          {"base", "gnu", "linux", "alpha"},
	"amd64":          {"base", "gnu", "linux", "amd64"},
	"arc":            {"base", "gnu", "linux", "arc"},
	"arm64":          {"base", "gnu", "linux", "arm64"},
	"armel":          {"eabi", "gnu", "linux", "arm"},
	"armhf":          {"eabihf", "gnu", "linux", "arm"},
	"hppa":           {"base", "gnu", "linux", "hppa"},
	"hurd-amd64":     {"base", "gnu", "hurd", "amd64"},
	"hurd-i386":      {"base", "gnu", "hurd", "i386"},
	"i386":           {"base", "gnu", "linux", "i386"},
	"ia64":           {"base", "gnu", "linux", "ia64"},
	"kfreebsd-amd64": {"base", "gnu", "kfreebsd", "amd64"},
	"kfreebsd-i386":  {"base", "gnu", "kfreebsd", "i386"},
	"loong64":        {"base", "gnu", "linux", "loong64"},
	"m68k":           {"base", "gnu", "linux", "m68k"},
	"mips64el":       {"abi64", "gnu", "linux", "mips64el"},
	"mipsel":         {"base", "gnu", "linux", "mipsel"},
	"powerpc":        {"base", "gnu", "linux", "powerpc"},
	"ppc64":          {"base", "gnu", "linux", "ppc64"},
	"ppc64el":        {"base", "gnu", "linux", "ppc64el"},
	"riscv64":        {"base", "gnu", "linux", "riscv64"},
	"s390x":          {"base", "gnu", "linux", "s390x"},
	"sh4":            {"base", "gnu", "linux", "sh4"},
	"sparc64":        {"base", "gnu", "linux", "sparc64"},
	"x32":            {"x32", "gnu", "linux", "amd64"},
}

// ErrUnknownArch means an architecture's dpkg tuple is needed and
// mksigned does not know it.
var ErrUnknownArch = errors.New("architecture not known to mksigned")

// ArchIs reports whether the architecture arch (such as "armhf") is one
// that alias names, as dpkg's Dpkg::Arch::debarch_is decides it: alias is
// arch itself, "any", or a wildcard such as "linux-any", "any-arm" or
// "any-gnu-linux-any", whose parts that are not "any" must equal those of
// arch's tuple. It is an error if the answer needs arch's tuple and
// mksigned does not know it: guessing could skip a relation dpkg applies.
// ("all" is only ever itself.)
func ArchIs(arch, alias string) (bool, error) {
	if alias == arch || alias == "any" && arch != "all" {
		return true, nil
	}
	if arch == "all" || alias == "all" {
		return false, nil
	}
	parts := strings.Split(alias, "-")
	wild := false
	for _, p := range parts {
		wild = wild || p == "any"
	}
	if wild && len(parts) > 4 {
		return false, nil
	}
	real, ok := archTuples[arch]
	if !ok {
		return false, fmt.Errorf("%w: %q, so it cannot tell whether %q names it", ErrUnknownArch, arch, alias)
	}
	if !wild {
		// Another name of an architecture: dpkg compares the tuples
		// ("linux-amd64" is amd64).
		t, ok := archTuples[alias]
		if !ok {
			return false, fmt.Errorf("%w: %q, so it cannot tell whether it is %q", ErrUnknownArch, alias, arch)
		}
		return t == real, nil
	}
	// A wildcard of fewer than four parts is the tuple's last parts.
	want := append(make([]string, 4-len(parts)), parts...)
	for i := range want {
		if want[i] == "" {
			want[i] = "any"
		}
		if want[i] != "any" && want[i] != real[i] {
			return false, nil
		}
	}
	return true, nil
}
