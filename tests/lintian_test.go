package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// TestLintian runs lintian on the generated source package and on what
// dpkg-source -b makes of the same tree: the tags must be the same, so
// mksigned adds no problem of its own. (Debian's templates carry some:
// fwupd's deprecated debhelper compat, shim's no-human-maintainers error.)
func TestLintian(t *testing.T) {
	lintian := testutil.RequireTool(t, "lintian")
	dpkgSource := testutil.RequireTool(t, "dpkg-source")
	key, cert := newKey(t, "2048")
	for _, c := range debianCases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			mustMksigned(t, "", nil, "generate", "--template", testutil.DebianFixture(t, c.template),
				"--unsigned", testutil.DebianFixture(t, c.unsigned), "--key", key, "--cert", cert, "--output", out)
			dsc := onlyFile(t, out, ".dsc")
			ours := lintianTags(t, lintian, dsc)

			work := t.TempDir()
			source := strings.Split(filepath.Base(dsc), "_")[0]
			testutil.Run(t, "", dpkgSource, "-x", dsc, filepath.Join(work, source))
			testutil.Run(t, work, dpkgSource, "-b", source)
			theirs := lintianTags(t, lintian, onlyFile(t, work, ".dsc"))
			if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
				t.Errorf("lintian tags differ from those of dpkg-source's package:\nours:\n%s\ntheirs:\n%s",
					strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
			}
		})
	}
}

func lintianTags(t *testing.T, lintian, dsc string) []string {
	t.Helper()
	cmd := exec.Command(lintian, "--no-tag-display-limit", dsc)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	b, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() > 2) {
		t.Fatalf("lintian %s: %v\n%s", dsc, err, b)
	}
	var tags []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" {
			tags = append(tags, l)
		}
	}
	sort.Strings(tags)
	return tags
}
