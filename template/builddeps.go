package template

import (
	"fmt"
	"strings"

	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// CheckVersion checks that version v of the unsigned package pkg, built
// for arch, satisfies every Build-Depends relation of the template that is
// about pkg alone, such as "grub-efi-amd64-bin (= 2.06-13+deb12u2)" or
// fwupd's pair "(>= 1:1.4-1) [amd64], (<< 1:1.4-2) [amd64]". If it did not,
// the signed package could not be built against this unsigned package.
//
// Relations restricted to other architectures are skipped, as dpkg-checkbuilddeps
// would skip them; for an Architecture: all package every relation applies.
// A relation with alternatives naming other packages too cannot be decided
// here and is skipped.
func (t *Template) CheckVersion(pkg string, v version.Version, arch string) error {
	if arch != "" && arch != "all" {
		if _, err := dependency.ParseArch(arch); err != nil {
			return fmt.Errorf("package %s: architecture %q: %w", pkg, arch, err)
		}
	}
	for _, rel := range t.BuildDepends.Relations {
		var mine []dependency.Possibility
		other := false
		for _, p := range rel.Possibilities {
			if p.Substvar {
				other = true
				continue
			}
			applies, err := archApplies(p.Architectures, arch)
			if err != nil {
				return &inputerr.Error{Path: "source-template/debian/control", Field: "Build-Depends", Offset: inputerr.NoOffset,
					Err: fmt.Errorf("%s: %w", relationString([]dependency.Possibility{p}), err)}
			}
			if !applies {
				continue
			}
			if p.Name == pkg {
				mine = append(mine, p)
			} else {
				other = true
			}
		}
		if len(mine) == 0 || other {
			continue
		}
		ok := false
		for _, p := range mine {
			if p.Version == nil || p.Version.SatisfiedBy(v) {
				ok = true
				break
			}
		}
		if !ok {
			return &inputerr.Error{
				Path: "source-template/debian/control", Field: "Build-Depends", Offset: inputerr.NoOffset,
				Err: fmt.Errorf("%s %s does not satisfy %q: the signed package would not build against it",
					pkg, v, relationString(mine)),
			}
		}
	}
	return nil
}

// relationString writes possibilities as dpkg does: name (op ver) [arches].
func relationString(ps []dependency.Possibility) string {
	var alts []string
	for _, p := range ps {
		s := p.Name
		if p.Version != nil {
			s += " (" + p.Version.Operator + " " + p.Version.Number + ")"
		}
		if p.Architectures != nil && len(p.Architectures.Architectures) > 0 {
			var as []string
			for _, a := range p.Architectures.Architectures {
				n := a.String()
				if p.Architectures.Not {
					n = "!" + n
				}
				as = append(as, n)
			}
			s += " [" + strings.Join(as, " ") + "]"
		}
		alts = append(alts, s)
	}
	return strings.Join(alts, " | ")
}

// archApplies says whether a relation restricted to set ("[amd64 arm64]",
// "[!hurd-any]") applies when building for arch, with dpkg's wildcard
// rules (ArchIs). For an Architecture: all package every relation applies.
func archApplies(set *dependency.ArchSet, arch string) (bool, error) {
	if set == nil || len(set.Architectures) == 0 || arch == "all" || arch == "" {
		return true, nil
	}
	for _, a := range set.Architectures {
		is, err := ArchIs(arch, a.String())
		if err != nil {
			return false, err
		}
		if is {
			return !set.Not, nil
		}
	}
	return set.Not, nil
}
