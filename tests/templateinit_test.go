package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// TestTemplateInitBuild goes from Debian's fwupd-unsigned alone to the
// signed fwupdx64.efi with no hand edit: template init proposes
// signing.yaml, template build makes the template .deb of it, and
// generate and dpkg-buildpackage build the signed package, which sbverify
// checks.
func TestTemplateInitBuild(t *testing.T) {
	requireFwupdBuild(t)
	dir := t.TempDir()
	unsigned := testutil.DebianFixture(t, fwupdUnsigned)
	spec := filepath.Join(dir, "signing.yaml")
	mustMksigned(t, "", nil, "template", "init", "--unsigned", unsigned, "--output", spec)
	b, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	// Named as Debian names fwupd's: the template package too.
	if !strings.Contains(string(b), "\nsource: fwupd-amd64-signed\n") {
		t.Errorf("signing.yaml does not name the source fwupd-amd64-signed:\n%s", b)
	}
	mustMksigned(t, "", nil, "template", "build", spec, "--unsigned", unsigned, "--deb", dir)
	buildSignedFwupd(t, filepath.Join(dir, "fwupd-amd64-signed-template_1.4-1_amd64.deb"), unsigned)
}
