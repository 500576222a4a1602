// Package tests holds mksigned's end-to-end tests: they build the binary,
// drive it as a user would, and check what it writes with Debian's own
// tools (dpkg-source, dpkg-buildpackage, sbattach, sbverify, osslsigncode,
// sign-file) and against Debian's published signed packages.
package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// mksignedBin is the binary under test, built once by TestMain; under
// go test -race it is built with -race, so that the concurrent signing
// pipeline, which runs only there and never in this process, is
// race-checked.
var mksignedBin string

// plainBin is the binary built without -race. The tests that measure a
// run's time and memory (runLimited) use it: the race detector multiplies
// both (the pure-Go xz decoder runs about ten times slower), and the
// bounds are about the binary users run. Without -race it is mksignedBin.
var plainBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mksigned-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mksignedBin = filepath.Join(dir, "mksigned")
	plainBin = mksignedBin
	builds := [][]string{{"-o", mksignedBin}}
	if raceEnabled {
		plainBin = filepath.Join(dir, "mksigned-norace")
		builds = [][]string{{"-race", "-o", mksignedBin}, {"-o", plainBin}}
	}
	for _, flags := range builds {
		build := exec.Command("go", append(append([]string{"build"}, flags...), "../cmd/mksigned")...)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building mksigned:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	testutil.StopPostgres()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// mksigned runs the binary with args in dir and extra environment.
func mksigned(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	return mksignedStdin(t, dir, env, nil, args...)
}

// mksignedStdin is mksigned with stdin as standard input (none if nil).
func mksignedStdin(t *testing.T, dir string, env []string, stdin []byte, args ...string) result {
	t.Helper()
	cmd := exec.Command(mksignedBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running mksigned: %v", err)
		}
		code = ee.ExitCode()
	}
	noRace(t, stderr.String())
	return result{stdout.String(), stderr.String(), code}
}

// noRace fails the test if a race-checked binary reported a data race on
// stderr (it also exits 66 then, but not every test looks at the status).
func noRace(t *testing.T, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "WARNING: DATA RACE") {
		t.Errorf("the race detector reported a data race in mksigned:\n%s", stderr)
	}
}

// mustMksigned runs the binary and fails the test unless it exits 0.
func mustMksigned(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	r := mksigned(t, dir, env, args...)
	if r.code != 0 {
		t.Fatalf("mksigned %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}
