package pkggen

import (
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// depCases are dependency fields whose parsing, simplification and output
// are compared with dpkg's own Perl modules.
var depCases = []string{
	"debhelper (>= 9.0.0), sbsigntool [amd64 arm64 armhf i386], fwupd-unsigned (>= 1:1.4-1) [amd64], fwupd-unsigned (<< 1:1.4-2) [amd64]",
	"a (>=1:2.0-0) [ amd64  i386 ] < !nocheck  stage1 >  <cross>, b:any|c (<3), d (=1.0),d (>= 0.5),  e (>= 2), e (<< 3)",
	"0[ ]", "a < >", "a <x><y>", "a (>= 1) [ amd64 ]<a b >  < c>",
	"a | b, a", "a, a | b", "a (>= 2), a (>= 1)", "a (>= 1), a (>= 2)", "a (<< 2), a (<< 3)", "a (<= 2), a (<< 3)",
	"a (= 1), a (<< 1)", "a (= 1), a (>> 0)", "a (>> 1), a (<< 1)", "a (>= 1) [amd64], a (>= 2)", "a (>= 2), a (>= 1) [amd64]",
	"a [!amd64], a [!amd64 !i386]", "a [!i386], a [amd64]", "a <!nocheck>, a", "a, a <!nocheck>", "a:any, a",
	"a (>= 1~), a (>= 1)", "a (>= 1.0), a (>= 1.0+b1)", "a (>= 2) | b, a (>= 1) | b | c", "x (>= abc), x (>= 1)",
	"a [amd64 i386], a [amd64]", "a [amd64], a [amd64 i386]", "a [!amd64], a [amd64]", "a [amd64] | b, a",
	", a,, b,", "a |, b", "a:native", "  a  ( >=  1 )  ", "a (>= ${binary:Version})",
}

// TestDepsMatchDpkgPerl runs dpkg's deps_parse, simplify_deps and output on
// each case (as dpkg-source does for Build-Depends and Build-Conflicts)
// and compares.
func TestDepsMatchDpkgPerl(t *testing.T) {
	t.Parallel()
	cases := append(append([]string(nil), depCases...), randomDeps(400)...)
	testutil.RequireTool(t, "dpkg-source") // brings Dpkg::Deps
	perl := testutil.RequireTool(t, "perl")
	const script = `use Dpkg::Deps; use Dpkg::ErrorHandling; report_options(quiet_warnings => 1);
while (my $l = <STDIN>) { chomp $l; for my $u (0, 1) {
  my $d = deps_parse($l, build_dep => 1, union => $u);
  if (!defined $d) { print "ERROR\n"; next }
  $d->simplify_deps(Dpkg::Deps::KnownFacts->new()); $d->sort() if $u; print $d->output(), "\n" } }`
	cmd := exec.Command(perl, "-e", script)
	cmd.Stdin = strings.NewReader(strings.Join(cases, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("perl: %v", err)
	}
	want := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(want) != 2*len(cases) {
		t.Fatalf("perl printed %d lines for %d cases", len(want), len(cases))
	}
	for i, c := range cases {
		for u, union := range []bool{false, true} {
			got := "ERROR"
			list, err := parseDeps(c, depOptions{buildDep: true})
			if err == nil && union {
				for _, g := range list {
					if len(g) > 1 {
						err = errUnionOr
					}
				}
			}
			if err == nil {
				if union {
					got = formatDeps(simplifyUnion(list))
				} else {
					got = formatDeps(simplifyAnd(list))
				}
			}
			if w := want[2*i+u]; got != w {
				t.Errorf("%q (union %v): got %q, dpkg gives %q", c, union, got, w)
			}
		}
	}
}

// randomDeps makes dependency fields from a small vocabulary, so that
// names repeat and simplification has work to do.
func randomDeps(n int) []string {
	r := rand.New(rand.NewPCG(7, 7))
	pick := func(l ...string) string { return l[r.IntN(len(l))] }
	simple := func() string {
		s := pick("a", "b", "c")
		if r.IntN(4) == 0 {
			s += pick(":any", ":native", ":amd64")
		}
		if r.IntN(3) > 0 {
			s += " (" + pick("<<", "<=", "=", ">=", ">>", "<", ">") + " " + pick("1", "2", "1~", "1.0", "1:0.5", "2-1") + ")"
		}
		if r.IntN(3) == 0 {
			s += " [" + pick("amd64", "i386", "amd64 i386", "!amd64", "!i386 !amd64", "i386 amd64") + "]"
		}
		if r.IntN(4) == 0 {
			s += " <" + pick("!nocheck", "stage1", "!nocheck cross") + ">"
		}
		return s
	}
	var out []string
	for range n {
		var and []string
		for range 1 + r.IntN(4) {
			or := []string{simple()}
			if r.IntN(4) == 0 {
				or = append(or, simple())
			}
			and = append(and, strings.Join(or, " | "))
		}
		out = append(out, strings.Join(and, ", "))
	}
	return out
}
