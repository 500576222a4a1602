// Package testutil holds helpers shared by mksigned's tests: finding the
// real tools we cross-check against, and golden files.
package testutil

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// RequireTool returns the path of the named program (a name looked up in
// PATH, or an absolute path). When it is missing, the test fails if CI is
// set in the environment (CI must install every tool the tests use), and is
// skipped with a message otherwise (a developer's laptop).
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	var p string
	var err error
	if filepath.IsAbs(name) {
		if _, err = os.Stat(name); err == nil {
			p = name
		}
	} else {
		p, err = exec.LookPath(name)
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("required tool %s is missing (CI must install it: see .ci/run): %v", name, err)
		}
		t.Skipf("skipping: %s not installed (CI installs it; see .ci/run)", name)
	}
	return p
}

// SignFile is where Debian's linux-kbuild-6.1 package installs Linux's
// sign-file.
const SignFile = "/usr/lib/linux-kbuild-6.1/scripts/sign-file"

// Run runs a command and fails the test, showing its output, if it fails.
// It returns standard output.
func Run(t testing.TB, dir string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\nstdout:\n%s\nstderr:\n%s", name, args, err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

// Golden compares got with the file testdata/<name> and rewrites the file
// instead when the test runs with -update.
func Golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (rerun with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (rerun with -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// RepoRoot returns the module's root directory, found by walking up from
// the test's working directory to go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// DebianFixture returns the path of a committed real Debian package under
// testdata/debian (see testdata/debian/PROVENANCE).
func DebianFixture(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), "testdata", "debian", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return p
}

// ListDir returns the names in dir, sorted.
func ListDir(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
