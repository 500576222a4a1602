package template

import (
	"os/exec"
	"sort"
	"strings"
	"testing"

	"pault.ag/go/debian/version"

	"github.com/mksigned/mksigned/internal/testutil"
)

// TestArchTuples checks the table against dpkg's own tables, through
// Dpkg::Arch::debarch_to_debtuple (what dpkg-architecture -q prints).
func TestArchTuples(t *testing.T) {
	t.Parallel()
	perl := testutil.RequireTool(t, "perl")
	var arches []string
	for a := range archTuples {
		arches = append(arches, a)
	}
	sort.Strings(arches)
	cmd := exec.Command(perl, "-MDpkg::Arch=debarch_to_debtuple", "-ne", `chomp; print join("-", debarch_to_debtuple($_)), "\n";`)
	cmd.Stdin = strings.NewReader(strings.Join(arches, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("perl Dpkg::Arch: %v", err)
	}
	got := strings.Fields(string(out))
	if len(got) != len(arches) {
		t.Fatalf("dpkg gave %d tuples for %d architectures: %q", len(got), len(arches), got)
	}
	for i, arch := range arches {
		if tu := archTuples[arch]; got[i] != strings.Join(tu[:], "-") {
			t.Errorf("%s: table says %v, dpkg %s", arch, tu, got[i])
		}
	}
}

// TestArchIs checks ArchIs against dpkg's own Dpkg::Arch::debarch_is
// (what dpkg-architecture -i runs), in one perl process, for every known
// architecture and a set of aliases.
func TestArchIs(t *testing.T) {
	t.Parallel()
	perl := testutil.RequireTool(t, "perl")
	aliases := []string{"any", "linux-any", "any-amd64", "any-arm", "any-i386", "hurd-any", "kfreebsd-any",
		"gnu-linux-any", "eabihf-any-any-arm", "any-any-linux-any", "any-linux-any", "base-any-any-any", "x32-any-any-any",
		"amd64", "armhf", "musl-linux-any", "any-mips64el", "abi64-any-any-any", "any-any-any-any-any", "arm64", "i386", "all"}
	var arches []string
	for a := range archTuples {
		arches = append(arches, a)
	}
	sort.Strings(arches)
	var in strings.Builder
	for _, arch := range arches {
		for _, alias := range aliases {
			in.WriteString(arch + " " + alias + "\n")
		}
	}
	cmd := exec.Command(perl, "-MDpkg::Arch=debarch_is", "-ne", `chomp; my ($a, $b) = split / /; print debarch_is($a, $b) ? "1\n" : "0\n";`)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("perl Dpkg::Arch: %v", err)
	}
	want := strings.Fields(string(out))
	i := 0
	for _, arch := range arches {
		for _, alias := range aliases {
			got, err := ArchIs(arch, alias)
			if err != nil {
				t.Fatalf("ArchIs(%q, %q): %v", arch, alias, err)
			}
			if w := want[i] == "1"; got != w {
				t.Errorf("ArchIs(%q, %q) = %v, dpkg's debarch_is says %v", arch, alias, got, w)
			}
			i++
		}
	}
	for _, c := range [][2]string{{"musl-linux-amd64", "linux-any"}, {"amd64", "linux-amd64"}} {
		if _, err := ArchIs(c[0], c[1]); err == nil {
			t.Errorf("ArchIs(%q, %q): no error, want one: mksigned cannot tell", c[0], c[1])
		}
	}
	if ok, err := ArchIs("musl-linux-amd64", "musl-linux-amd64"); !ok || err != nil {
		t.Errorf("ArchIs of an unknown architecture against itself: %v, %v", ok, err)
	}
}

// TestCheckVersionWildcards: relations restricted by wildcards apply as
// dpkg applies them. pault.ag/go/debian's ArchSet.Matches says that
// linux-any does not name armhf, armel or x32, which skipped such pins.
func TestCheckVersionWildcards(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		deps, arch string
		refused    bool
	}{
		{"p (= 2) [linux-any]", "armhf", true},
		{"p (= 2) [linux-any]", "armel", true},
		{"p (= 2) [linux-any]", "x32", true},
		{"p (= 2) [any-arm]", "armhf", true},
		{"p (= 2) [any-arm]", "arm64", false},
		{"p (= 2) [!linux-any]", "armhf", false},
		{"p (= 2) [!hurd-any]", "mips64el", true},
		{"p (= 2) [amd64]", "arm64", false},
		{"p (= 2) [amd64]", "all", true},
		{"p (= 2) [linux-any]", "musl-linux-amd64", true}, // unknown: refused, not skipped
	} {
		tp, err := parseWithBuildDepends(c.deps)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := version.Parse("1")
		err = tp.CheckVersion("p", v, c.arch)
		if (err != nil) != c.refused {
			t.Errorf("%q for %s: %v, want refused %v", c.deps, c.arch, err, c.refused)
		}
	}
}
