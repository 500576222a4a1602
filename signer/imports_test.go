package signer

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// TestImports: the signing host never parses a binary, so this package
// must not link what could (issue 10, §2): the .deb reader and anything
// that reads ar archives, the PE and ELF parsers, the template reader and
// the generate pipeline that use them, go-debian, and every decompressor.
// The go tool answers from the source, so the test sees what a build
// would link, tests excluded.
func TestImports(t *testing.T) {
	t.Parallel()
	goTool := testutil.RequireTool(t, "go")
	const self = "github.com/mksigned/mksigned/signer"
	out, err := exec.Command(goTool, "list", "-deps", self).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v\n%s", self, err, stderr)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || deps[len(deps)-1] != self {
		t.Fatalf("go list -deps %s gave %d packages, not ending in the package itself: %q", self, len(deps), deps)
	}
	// A dependency is forbidden if it is one of these or below one.
	forbidden := []string{
		"github.com/mksigned/mksigned/deb",
		"github.com/mksigned/mksigned/sign/efi",
		"github.com/mksigned/mksigned/template",
		"github.com/mksigned/mksigned/job",
		"github.com/mksigned/mksigned/pkggen",
		"debug/pe", "debug/elf",
		"archive/ar", "github.com/blakesmith/ar",
		"pault.ag/go/debian",
		"compress", // gzip, bzip2, flate, zlib, lzw
		"github.com/ulikunitz/xz", "github.com/xi2/xz", "github.com/klauspost/compress",
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("%s depends on %s (forbidden: %s): the signing host must not link a parser of binaries or a decompressor", self, dep, f)
			}
		}
	}
	// The test must be able to fail: these are in the graph and would
	// be reported if they were forbidden.
	for _, want := range []string{"github.com/mksigned/mksigned/sigreq", "github.com/mksigned/mksigned/sign/authenticode", "archive/tar"} {
		found := false
		for _, dep := range deps {
			found = found || dep == want
		}
		if !found {
			t.Errorf("go list -deps %s does not list %s: the check above looks at the wrong graph", self, want)
		}
	}
}
