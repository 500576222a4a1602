package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mksigned/mksigned/internal/testutil"
)

// TestOutputIntoExistingDirectory: into an --output directory that
// exists, the .tar.xz is renamed into place before the .dsc (so the .dsc
// never names a tarball that is not there yet), and a run whose write
// fails half-way leaves the files there before it, and the others,
// untouched.
func TestOutputIntoExistingDirectory(t *testing.T) {
	prlimit := testutil.RequireTool(t, "prlimit")
	key, cert := newKey(t, "2048")
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	args := []string{"generate", "--template", testutil.DebianFixture(t, shimTemplate),
		"--unsigned", testutil.DebianFixture(t, shimUnsigned), "--key", key, "--cert", cert, "--output", out}
	epoch := func(s string) []string { return []string{"SOURCE_DATE_EPOCH=" + s} }
	mustMksigned(t, "", epoch("1700000000"), args...)
	writeFile(t, filepath.Join(out, "keep.txt"), []byte("mine"), 0o644)
	dsc := filepath.Base(onlyFile(t, out, ".dsc"))
	tarxz := filepath.Base(onlyFile(t, out, ".tar.xz"))
	first := tree(t, out)

	// A second run replaces both files, the tarball first.
	moved := inotifyNames(t, out, syscall.IN_MOVED_TO)
	mustMksigned(t, "", epoch("1700000001"), args...)
	var order []string
	for len(order) < 2 {
		select {
		case name := <-moved:
			order = append(order, name)
		case <-time.After(10 * time.Second):
			t.Fatalf("renamed into %s: %q, then nothing for 10s", out, order)
		}
	}
	if want := []string{tarxz, dsc}; !slices.Equal(order, want) {
		t.Errorf("renamed into the existing output directory in the order %q, want %q", order, want)
	}
	second := tree(t, out)
	for _, name := range []string{dsc, tarxz} {
		if second[name] == first[name] {
			t.Fatalf("%s is the same after a run with another SOURCE_DATE_EPOCH: the test cannot tell old from new", name)
		}
	}

	// A third run may write no file larger than 1 KiB: writing the
	// tarball (5 KB) fails half-way.
	cmd := exec.Command(prlimit, "--fsize=1024", mksignedBin)
	cmd.Args = append(cmd.Args, args...)
	cmd.Env = append(os.Environ(), epoch("1700000002")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	noRace(t, stderr.String())
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "file too large") {
		t.Errorf("with a 1 KiB file size limit: %v, stderr %q; want exit 1 and \"file too large\"", err, stderr.String())
	}
	if d := cmp.Diff(second, tree(t, out)); d != "" {
		t.Errorf("a failed write changed the existing output directory (-before +after):\n%s", d)
	}
	if got := dirNames(t, parent); !slices.Equal(got, []string{"out"}) {
		t.Errorf("the output's parent holds %q after the failed write, want only out", got)
	}
}
