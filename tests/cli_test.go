package tests

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// TestDryRun prints the plan without a key and writes nothing.
func TestDryRun(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	got := mustMksigned(t, "", nil, "generate", "--dry-run", "--template", testutil.DebianFixture(t, shimTemplate),
		"--unsigned", testutil.DebianFixture(t, shimUnsigned), "--output", out)
	for _, want := range []string{
		"template shim-helpers-amd64-signed-template: source shim-helpers-amd64-signed version 1+16.1+2~deb12u1, 2 file(s) to sign",
		"sign efi          shim-unsigned usr/lib/shim/fbx64.efi (",
		"-> debian/signatures/shim-unsigned/usr/lib/shim/mmx64.efi.sig",
		"would write " + filepath.Join(out, "shim-helpers-amd64-signed_1+16.1+2~deb12u1.dsc"),
		"would write " + filepath.Join(out, "shim-helpers-amd64-signed_1+16.1+2~deb12u1.tar.xz"),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plan lacks %q:\n%s", want, got)
		}
	}
	notExist(t, out)
	// A dry run still checks the versions: fwupd's template builds only
	// against fwupd-unsigned (>= 1:1.4-1) and (<< 1:1.4-2).
	newer := repack(t, testutil.DebianFixture(t, fwupdUnsigned), func(root string) {
		p := filepath.Join(root, "DEBIAN/control")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, []byte(strings.Replace(string(b), "Version: 1:1.4-1", "Version: 1:1.4-2", 1)), 0o644)
	}, "xz")
	r := mksigned(t, "", nil, "generate", "--dry-run", "--template", testutil.DebianFixture(t, fwupdTemplate),
		"--unsigned", newer, "--output", out)
	const want = `source-template/debian/control: Build-Depends: fwupd-unsigned 1:1.4-2 does not satisfy "fwupd-unsigned (<< 1:1.4-2) [amd64]"`
	if r.code != 1 || !strings.Contains(r.stderr, want) || r.stdout != "" {
		t.Errorf("dry run with fwupd-unsigned 1:1.4-2: exit %d, stdout %q, stderr %q; want exit 1 and %q", r.code, r.stdout, r.stderr, want)
	}
	notExist(t, out)
}

// TestUsage checks exit codes and help.
func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		out  string // in stdout (code 0) or stderr
	}{
		{nil, 2, "Commands:"},
		{[]string{"help"}, 0, "generate"},
		{[]string{"--version"}, 0, "mksigned "},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"generate", "-h"}, 0, "--template"},
		{[]string{"verify", "-h"}, 0, "--dsc"},
		{[]string{"attach", "-h"}, 0, "--signature"},
		{[]string{"detach", "-h"}, 0, "--type"},
		{[]string{"help", "verify"}, 0, "--signed"},
		{[]string{"generate", "--template", "x"}, 2, "--unsigned"},
		{[]string{"generate", "--template", "x", "--unsigned", "y", "--output", "o"}, 2, "--key and --cert are required"},
		{[]string{"generate", "--template", "x", "--unsigned", "y", "--output", "o", "--key", "k", "--cert", "c", "--signatures", "s"}, 2, "exclude each other"},
		{[]string{"generate", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"attach", "--type", "zip", "--signature", "s", "--output", "o", "f"}, 2, `unknown --type "zip"`},
		{[]string{"verify", "--unsigned", "x"}, 2, "--dsc is required"},
		{[]string{"generate", "--template", "/nonexistent", "--unsigned", "y", "--dry-run"}, 1, "/nonexistent"},
	} {
		r := mksigned(t, "", nil, c.args...)
		text := r.stderr
		if c.code == 0 {
			text = r.stdout
		}
		if r.code != c.code || !strings.Contains(text, c.out) {
			t.Errorf("mksigned %q: exit %d, stdout %q, stderr %q; want exit %d with %q", c.args, r.code, r.stdout, r.stderr, c.code, c.out)
		}
	}
}

// TestUsageStreams: the built binary prints a subcommand's help on stdout
// for -h (exit 0), and on stderr after a bad flag (exit 2, stdout empty),
// with the flags spelled --name as the synopsis spells them.
func TestUsageStreams(t *testing.T) {
	for _, c := range []struct{ command, flag string }{
		{"generate", "--cert CERT"},
		{"verify", "--cert CERT"},
		{"attach", "--cert CERT"},
		{"detach", "--type efi"},
	} {
		usage := "Usage:\n  mksigned " + c.command + " "
		r := mksigned(t, "", nil, c.command, "-h")
		if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, usage) {
			t.Errorf("mksigned %s -h: exit %d, stdout %q, stderr %q; want exit 0 with the help on stdout only", c.command, r.code, r.stdout, r.stderr)
		}
		if name := strings.Fields(c.flag)[0]; !strings.Contains(r.stdout, "\n  "+c.flag+"\n") || strings.Contains(r.stdout, " "+name[1:]) {
			t.Errorf("mksigned %s -h shows flags as -name, or lacks %q:\n%s", c.command, c.flag, r.stdout)
		}
		r = mksigned(t, "", nil, c.command, "--bogus")
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "flag provided but not defined") || !strings.Contains(r.stderr, usage) {
			t.Errorf("mksigned %s --bogus: exit %d, stdout %q, stderr %q; want exit 2 with the error and the help on stderr only", c.command, r.code, r.stdout, r.stderr)
		}
	}
}

// TestReadmeExample runs the README's first command from the repository
// root, so that it stays true.
func TestReadmeExample(t *testing.T) {
	root := testutil.RepoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const cmd = "go run ./cmd/mksigned generate"
	i := strings.Index(string(readme), cmd)
	if i < 0 {
		t.Fatalf("README.md has no %q command", cmd)
	}
	line := string(readme[i:])
	line = line[:strings.Index(line, "\n")]
	args := strings.Fields(strings.TrimPrefix(line, "go run ./cmd/mksigned "))
	out := t.TempDir()
	for i, a := range args {
		if a == "--output" {
			args[i+1] = filepath.Join(out, "out")
		}
	}
	got := mustMksigned(t, root, nil, args...)
	if !strings.Contains(got, "fwupd-amd64-signed_1.4+1.dsc") {
		t.Errorf("README command printed:\n%s", got)
	}
}

// TestTestCommand: the README's test command is what .ci/run runs, and it
// neither takes a cached result (this package builds the binary with go
// build and imports none of its code, so go's test cache would report a
// stale "ok" after job/ or pkggen/ changed) nor runs without -race (which
// also race-checks the binary, see TestMain).
func TestTestCommand(t *testing.T) {
	root := testutil.RepoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	// The last line of each that runs go test on the whole module.
	last := func(text []byte) string {
		var cmd string
		for _, l := range strings.Split(string(text), "\n") {
			if strings.HasPrefix(l, "go test ") && strings.HasSuffix(l, " ./...") {
				cmd = l
			}
		}
		return cmd
	}
	r, c := last(readme), last(ci)
	if r == "" || r != c {
		t.Errorf("README.md's test command %q is not .ci/run's %q", r, c)
	}
	for _, flag := range []string{"-race", "-count=1"} {
		if !slices.Contains(strings.Fields(r), flag) {
			t.Errorf("test command %q lacks %s", r, flag)
		}
	}
}
