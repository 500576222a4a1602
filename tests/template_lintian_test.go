package tests

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// TestTemplateBuildLintian runs lintian on the source package generated
// from a template that template build wrote: issue 11 asks for no errors,
// and a signing.yaml author cannot fix a tag our templates cause, so none
// is allowed at all, warnings included.
func TestTemplateBuildLintian(t *testing.T) {
	lintian := testutil.RequireTool(t, "lintian")
	dir := t.TempDir()
	spec := filepath.Join(dir, "signing.yaml")
	writeFile(t, spec, []byte(fwupdYAML), 0o644)
	unsigned := testutil.DebianFixture(t, fwupdUnsigned)
	tmpl := filepath.Join(dir, "template")
	mustMksigned(t, "", nil, "template", "build", spec, "--unsigned", unsigned, "--output", tmpl)
	key, cert := newKey(t, "2048")
	out := filepath.Join(dir, "out")
	mustMksigned(t, "", nil, "generate", "--template", tmpl, "--unsigned", unsigned, "--key", key, "--cert", cert, "--output", out)
	dsc := onlyFile(t, out, ".dsc")
	if tags := lintianTags(t, lintian, dsc, "fwupd-efi-signed"); len(tags) != 0 {
		t.Errorf("lintian %s reported:\n%s", filepath.Base(dsc), strings.Join(tags, "\n"))
	}
}
