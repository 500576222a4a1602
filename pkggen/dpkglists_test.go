package pkggen

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/testutil"
)

// dpkgPerl runs a Perl program with dpkg's own modules (libdpkg-perl, part
// of dpkg-dev) and returns its output lines.
func dpkgPerl(t *testing.T, program, stdin string) []string {
	t.Helper()
	perl := testutil.RequireTool(t, "perl")
	testutil.RequireTool(t, "dpkg-source") // the modules come with it
	cmd := exec.Command(perl, "-e", program)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = []string{"LC_ALL=C"}
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("perl: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("perl: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// dpkgExcludes returns the exclude patterns dpkg-source -b uses:
// Dpkg::Source::Package's default tar_ignore after init_options, which
// appends the four debian/ files.
func dpkgExcludes(t *testing.T) []string {
	t.Helper()
	return dpkgPerl(t, `use Dpkg::Source::Package;
my $p = Dpkg::Source::Package->new(format => "3.0 (native)", options => {});
print "$_\n" foreach @{$p->{options}{tar_ignore}};`, "")
}

// TestDefaultExcludesAreDpkgs compares defaultExcludes with dpkg-source's
// own list.
func TestDefaultExcludesAreDpkgs(t *testing.T) {
	t.Parallel()
	if diff := cmp.Diff(dpkgExcludes(t), defaultExcludes); diff != "" {
		t.Errorf("defaultExcludes differs from dpkg-source's list (-dpkg +ours):\n%s", diff)
	}
}

// excludeExamples holds, for each default exclude pattern, a file that
// matches that pattern and no other; dir marks the patterns also tried on
// a directory (under d/): tar then leaves out its whole subtree.
var excludeExamples = []struct {
	pattern, name string
	dir           bool
}{
	{"*.a", "lib/libx.a", true},
	{"*.la", "lib/libx.la", true},
	{"*.o", "obj/x.o", true},
	{"*.so", "lib/libx.so", true},
	{".*.sw?", "src/.main.c.swp", true},
	{"*/*~", "src/main.c~", true},
	{",,*", ",,arch-tmp", true},
	{".[#~]*", ".#lock", true},
	{".arch-ids", ".arch-ids", true},
	{".arch-inventory", ".arch-inventory", true},
	{".be", ".be", true},
	{".bzr", ".bzr", true},
	{".bzr.backup", ".bzr.backup", true},
	{".bzr.tags", ".bzr.tags", true},
	{".bzrignore", ".bzrignore", true},
	{".cvsignore", ".cvsignore", true},
	{".deps", ".deps", true},
	{".git", ".git", true},
	{".gitattributes", ".gitattributes", true},
	{".gitignore", ".gitignore", true},
	{".gitmodules", ".gitmodules", true},
	{".gitreview", ".gitreview", true},
	{".hg", ".hg", true},
	{".hgignore", ".hgignore", true},
	{".hgsigs", ".hgsigs", true},
	{".hgtags", ".hgtags", true},
	{".mailmap", ".mailmap", true},
	{".mtn-ignore", ".mtn-ignore", true},
	{".shelf", ".shelf", true},
	{".svn", ".svn", true},
	{"CVS", "CVS", true},
	{"DEADJOE", "DEADJOE", true},
	{"RCS", "RCS", true},
	{"_MTN", "_MTN", true},
	{"_darcs", "_darcs", true},
	{"{arch}", "{arch}", true},
	{"debian/source/local-options", "debian/source/local-options", false},
	{"debian/source/local-patch-header", "debian/source/local-patch-header", false},
	{"debian/files", "debian/files", false},
	{"debian/files.new", "debian/files.new", false},
}

// matchingPatterns returns every pattern of patterns that GNU tar's
// matching (see excluded) finds in the member name p.
func matchingPatterns(patterns []string, p string) []string {
	var out []string
	for _, pat := range patterns {
		for start := 0; start <= len(p); start++ {
			if (start == 0 || p[start-1] == '/') && wildmatch(pat, p[start:]) {
				out = append(out, pat)
				break
			}
		}
	}
	return out
}

// TestEveryExcludeMatchesDpkgSource builds, with dpkg-source -b, a tree
// holding one file per exclude pattern of dpkg-source (and, for the
// patterns not tied to debian/, one directory with a file in it), plus a
// near miss of each that no pattern matches. dpkg-source must have left
// out exactly the examples; excluded must name each one's pattern; and
// our tar must equal dpkg-source's. The examples are checked against
// dpkg's list, not defaultExcludes, so that a pattern missing from ours
// shows as a difference from dpkg-source.
func TestEveryExcludeMatchesDpkgSource(t *testing.T) {
	t.Parallel()
	patterns := dpkgExcludes(t)
	const prefix = "synth"
	old := time.Date(2020, 5, 1, 12, 0, 0, 0, time.UTC)
	tree := basicTree(prefix, "", old)
	add := func(name string) {
		tree = append(tree, Entry{Name: name, Mode: 0o644, ModTime: old, Data: []byte(name + "\n")})
	}
	gone := map[string]string{} // member name -> its pattern
	var kept []string
	seen := map[string]bool{}
	for _, ex := range excludeExamples {
		seen[ex.pattern] = true
		// The file itself, or the directory holding "inside".
		names := map[string]string{ex.name: ex.name}
		if ex.dir {
			d := "d/" + ex.name[strings.LastIndexByte(ex.name, '/')+1:]
			names[d] = d + "/inside"
		}
		for name, file := range names {
			member := prefix + "/" + name
			if got := matchingPatterns(patterns, member); !slices.Equal(got, []string{ex.pattern}) {
				t.Fatalf("example %q matches %q, want only %q: fix the example", name, got, ex.pattern)
			}
			add(file)
			gone[member] = ex.pattern
		}
		if nearMiss := ex.name + "-kept"; len(matchingPatterns(patterns, prefix+"/"+nearMiss)) == 0 {
			add(nearMiss)
			kept = append(kept, prefix+"/"+nearMiss)
		}
	}
	for _, pat := range patterns {
		if !seen[pat] {
			t.Errorf("dpkg-source's pattern %q has no example", pat)
		}
	}
	if len(kept) < len(excludeExamples)/2 {
		t.Fatalf("only %d near misses are kept by every pattern: the examples are not varied enough", len(kept))
	}

	epoch := time.Unix(1700000500, 0)
	b := runDpkgSource(t, tree, prefix, "1700000500", epoch)
	listed := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(b.tar))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading dpkg-source's tar: %v", err)
		}
		listed[strings.TrimSuffix(h.Name, "/")] = true
	}
	for member, pat := range gone {
		if listed[member] || listed[member+"/inside"] {
			t.Errorf("dpkg-source kept %s, which matches %q", member, pat)
		}
		if got, ok := excluded(member); !ok || got != pat {
			t.Errorf("excluded(%q) = %q, %v; want %q, true", member, got, ok, pat)
		}
	}
	for _, member := range kept {
		if !listed[member] {
			t.Errorf("dpkg-source left out %s, which matches no pattern", member)
		}
		if got, ok := excluded(member); ok {
			t.Errorf("excluded(%q) = %q, true; want false", member, got)
		}
	}
	if got := ourTar(t, prefix, tree, epoch); !bytes.Equal(got, b.tar) {
		t.Errorf("tar differs from dpkg-source's at %s", firstDiff(got, b.tar))
	}
}

// TestDscOrderIsDpkgs compares dscOrder with
// Dpkg::Control::FieldsCore::field_ordered_list(CTRL_PKG_SRC).
func TestDscOrderIsDpkgs(t *testing.T) {
	t.Parallel()
	got := dpkgPerl(t, `use Dpkg::Control::FieldsCore; use Dpkg::Control::Types;
print "$_\n" foreach field_ordered_list(CTRL_PKG_SRC);`, "")
	if diff := cmp.Diff(got, dscOrder); diff != "" {
		t.Errorf("dscOrder differs from dpkg's CTRL_PKG_SRC order (-dpkg +ours):\n%s", diff)
	}
}

// everyFieldControl sets every field of a source stanza that dpkg-source
// carries into the .dsc (each field of Dpkg::Control::FieldsCore's
// CTRL_PKG_SRC order that debian/control may hold), in the reverse of
// that order.
const everyFieldControl = `Source: synth
Build-Conflicts-Indep: ci
Build-Conflicts-Arch: ca [amd64]
Build-Conflicts: c
Build-Depends-Indep: di
Build-Depends-Arch: da
Build-Depends: debhelper-compat (= 13)
Testsuite-Triggers: trigger
Testsuite: autopkgtest-pkg-perl
Vcs-Svn: svn://example.org/synth
Vcs-Mtn: mtn://example.org/synth
Vcs-Hg: https://example.org/hg/synth
Vcs-Git: https://example.org/git/synth.git
Vcs-Darcs: https://example.org/darcs/synth
Vcs-Cvs: :pserver:anonymous@example.org:/cvs synth
Vcs-Bzr: https://example.org/bzr/synth
Vcs-Arch: https://example.org/arch/synth
Vcs-Browser: https://example.org/synth
Standards-Version: 4.6.2
Description: every field
 in reverse order
Homepage: https://example.org/
Uploaders: B <b@example.org>
Maintainer: A <a@example.org>
Origin: Example

Package: synth
Architecture: any
Description: x
 x
`

// TestEveryDscFieldMatchesDpkgSource builds everyFieldControl with
// dpkg-source -b: its .dsc must hold every field of the CTRL_PKG_SRC
// order but Checksums-Md5 (dpkg-source writes Files instead), and ours
// must equal it.
//
// dpkg reads field names without regard to case and writes them in their
// canonical spelling, in their canonical place; so the same stanza with
// every name in odd case ("build-depends", "STANDARDS-VERSION") must give
// the same .dsc.
func TestEveryDscFieldMatchesDpkgSource(t *testing.T) {
	t.Parallel()
	for _, spelling := range []struct {
		name string
		f    func(string) string
	}{
		{"canonical", func(n string) string { return n }},
		{"lower", strings.ToLower},
		{"upper", strings.ToUpper},
		{"mixed", func(n string) string {
			b := []byte(strings.ToLower(n))
			for i := 1; i < len(b); i += 2 {
				b[i] = strings.ToUpper(string(b[i]))[0]
			}
			return string(b)
		}},
	} {
		t.Run(spelling.name, func(t *testing.T) {
			t.Parallel()
			lines := strings.Split(everyFieldControl, "\n")
			for i, l := range lines {
				if name, rest, ok := strings.Cut(l, ":"); ok && l[0] != ' ' {
					lines[i] = spelling.f(name) + ":" + rest
				}
			}
			everyDscField(t, strings.Join(lines, "\n"))
		})
	}
}

func everyDscField(t *testing.T, control string) {
	tree := basicTree("synth", control, time.Unix(1600000000, 0))
	src, err := ReadSource(tree)
	if err != nil {
		t.Fatalf("ReadSource: %v", err)
	}
	b := runDpkgSource(t, tree, "synth", "1700000000", time.Unix(1700000000, 0))
	var fields []string
	for _, line := range strings.Split(string(b.dsc), "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && line[0] != ' ' {
			fields = append(fields, name)
		}
	}
	want := slices.DeleteFunc(slices.Clone(dscOrder), func(f string) bool { return f == "Checksums-Md5" })
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("dpkg-source's .dsc does not hold every field in order (-want +dpkg-source):\n%s", diff)
	}
	dsc, err := DSC(src, b.xzName, b.xz)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dsc, b.dsc) {
		t.Errorf(".dsc differs from dpkg-source's\ngot:\n%s\nwant:\n%s", dsc, b.dsc)
	}
}

// TestFieldOrderMatchesDpkgControl sets every .dsc field, and some that
// dpkg does not know, in reverse order, in a fieldMap and in a
// Dpkg::Control of type CTRL_PKG_SRC: both must write the same text. This
// covers the fields dpkg-source -b fills in itself (Checksums-Md5, which
// it never writes, included).
func TestFieldOrderMatchesDpkgControl(t *testing.T) {
	t.Parallel()
	names := append(slices.Clone(dscOrder), "Zz-Unknown", "Aa-Unknown", "X-Custom")
	slices.Reverse(names)
	m := newFieldMap()
	var in strings.Builder
	for i, n := range names {
		v := "value " + n
		if i%5 == 0 {
			v += "\n second line\n ."
		}
		m.set(n, v)
		in.WriteString(n + "\t" + strings.ReplaceAll(v, "\n", "\\n") + "\n")
	}
	want := dpkgPerl(t, `use Dpkg::Control; use Dpkg::Control::Types;
my $c = Dpkg::Control->new(type => CTRL_PKG_SRC);
while (<STDIN>) { chomp; my ($n, $v) = split /\t/, $_, 2; $v =~ s/\\n/\n/g; $c->{$n} = $v; }
print $c->output;`, in.String())
	got := strings.Split(strings.TrimSuffix(m.output(), "\n"), "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fieldMap output differs from Dpkg::Control's (-dpkg +ours):\n%s", diff)
	}
}
