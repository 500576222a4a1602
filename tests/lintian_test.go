package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// TestLintian runs lintian on the generated source package and on what
// dpkg-source -b makes of the same tree: the tags must be the same, so
// mksigned adds no problem of its own. Debian's templates carry some of
// their own, and each run must report the one named below: a lintian
// that fails, or runs no check, must not pass as "the same tags".
func TestLintian(t *testing.T) {
	lintian := testutil.RequireTool(t, "lintian")
	dpkgSource := testutil.RequireTool(t, "dpkg-source")
	key, cert := newKey(t, "2048")
	known := map[string]string{
		"fwupd":        "package-uses-deprecated-debhelper-compat-version",
		"shim-helpers": "no-human-maintainers",
	}
	for _, c := range debianCases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			mustMksigned(t, "", nil, "generate", "--template", testutil.DebianFixture(t, c.template),
				"--unsigned", testutil.DebianFixture(t, c.unsigned), "--key", key, "--cert", cert, "--output", out)
			dsc := onlyFile(t, out, ".dsc")
			source := strings.Split(filepath.Base(dsc), "_")[0]
			ours := lintianTags(t, lintian, dsc, source)

			work := t.TempDir()
			testutil.Run(t, "", dpkgSource, "-x", dsc, filepath.Join(work, source))
			testutil.Run(t, work, dpkgSource, "-b", source)
			theirs := lintianTags(t, lintian, onlyFile(t, work, ".dsc"), source)
			if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
				t.Errorf("lintian tags differ from those of dpkg-source's package:\nours:\n%s\ntheirs:\n%s",
					strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
			}
			if !slices.ContainsFunc(ours, func(l string) bool { return tagName(l) == known[c.name] }) {
				t.Errorf("lintian did not report %s, which Debian's %s template carries; its tags:\n%s",
					known[c.name], c.name, strings.Join(ours, "\n"))
			}
		})
	}
}

// tagLine is one line of lintian's report on a source package: severity
// code, package, "source", tag, and the tag's context.
var tagLine = regexp.MustCompile(`^[A-Z]: ([a-z0-9][a-z0-9+.-]+) source: ([a-z0-9][a-z0-9+.-]*)( .*)?$`)

// tagName returns the tag of a line that tagLine matches.
func tagName(line string) string { return tagLine.FindStringSubmatch(line)[2] }

// lintianTags runs lintian on dsc and returns its tag lines, sorted. The
// run must be a real one: with --fail-on none lintian exits 0 whatever
// it finds, 1 on a run-time error and 2 on bad arguments (lintian(1),
// EXIT STATUS); every line of its report must be a tag of package
// source; and it may say nothing on stderr but that it runs as root.
func lintianTags(t *testing.T, lintian, dsc, source string) []string {
	t.Helper()
	cmd := exec.Command(lintian, "--fail-on", "none", "--tag-display-limit", "0", dsc)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("lintian %s: %v\nstdout:\n%s\nstderr:\n%s", dsc, err, stdout.String(), stderr.String())
	}
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if l != "" && l != "running with root privileges is not recommended!" {
			t.Errorf("lintian %s said on stderr: %q", dsc, l)
		}
	}
	var tags []string
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if l == "" {
			continue
		}
		if m := tagLine.FindStringSubmatch(l); m == nil || m[1] != source {
			t.Errorf("lintian %s: %q is not a tag of %s source", dsc, l, source)
			continue
		}
		tags = append(tags, l)
	}
	sort.Strings(tags)
	return tags
}
