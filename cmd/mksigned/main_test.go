package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
	"github.com/mksigned/mksigned/sign/kmod"
)

// TestRun drives the CLI in-process: exit codes and where messages go.
func TestRun(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args         []string
		code         int
		stdout, errs string
	}{
		{nil, exitUsage, "", "Commands:"},
		{[]string{"help"}, exitOK, "Commands:", ""},
		{[]string{"--version"}, exitOK, "mksigned ", ""},
		{[]string{"generate", "-h"}, exitOK, "--dry-run", ""},
		{[]string{"help", "attach"}, exitOK, "--signature", ""},
		{[]string{"nope"}, exitUsage, "", `unknown command "nope"`},
		{[]string{"generate"}, exitUsage, "", "--template is required"},
		{[]string{"generate", "--template", "t", "--unsigned", "u", "--jobs", "0", "--dry-run"}, exitUsage, "", "--jobs must be at least 1"},
		{[]string{"generate", "--template", "t", "--unsigned", "u", "--jobs", "1025", "--dry-run"}, exitUsage, "", "--jobs must be at most 1024"},
		{[]string{"generate", "--template", "t", "--unsigned", "u", "--jobs", "9000", "--dry-run"}, exitUsage, "", "--jobs must be at most 1024"},
		{[]string{"generate", "--template", "t", "--unsigned", "u", "--dry-run", "--quiet", "--json"}, exitUsage, "", "exclude each other"},
		{[]string{"generate", "--template", "t", "--unsigned", "u", "--dry-run", "extra"}, exitUsage, "", `unexpected argument "extra"`},
		{[]string{"generate", "--template", "/nonexistent/t", "--unsigned", "u", "--dry-run"}, exitFail, "", "mksigned: stat /nonexistent/t"},
		{[]string{"process", "-h"}, exitOK, "--retry-failed", ""},
		{[]string{"process", "--incoming", "i", "--output", "o"}, exitUsage, "", "--state is required"},
		{[]string{"process", "--state", "s", "--output", "o", "--key", "k", "--cert", "c"}, exitUsage, "", "--incoming is required"},
		{[]string{"process", "--state", "s", "--incoming", "i", "--key", "k", "--cert", "c"}, exitUsage, "", "--output is required"},
		{[]string{"process", "--state", "s", "--incoming", "i", "--output", "o"}, exitUsage, "", "--key and --cert are required (or --sign-with CMD)"},
		{[]string{"process", "--state", "s", "--incoming", "i", "--output", "i", "--key", "k", "--cert", "c"}, exitUsage, "", "--output may not be --incoming"},
		{[]string{"process", "--state", "s", "--incoming", "i", "--output", "o", "--key", "k", "--cert", "c", "--poll", "1ms"}, exitUsage, "", "--poll must be at least 100ms"},
		{[]string{"process", "--status", "--state", "s", "--once"}, exitUsage, "", "--status takes only --state and --json"},
		{[]string{"process", "--state", "s", "--incoming", "i", "--output", "o", "--key", "k", "--cert", "c", "--sign-with", "x"}, exitUsage, "", "--key and --sign-with exclude each other"},
		{[]string{"process", "--state", "s", "--incoming", "i", "--output", "o", "--sign-with", "x", "--audit-log", "l"}, exitUsage, "", "the signing host keeps the log"},
		{[]string{"process", "--status", "--state", "/nonexistent/s"}, exitFail, "", "mksigned: --state: stat /nonexistent/s"},
		{[]string{"detach", "--type", "efi", "--output", "o"}, exitUsage, "", "want exactly one SIGNED file"},
		{[]string{"attach", "--type", "efi", "--signature", "s", "--output", "o", "/nonexistent/f"}, exitFail, "", "/nonexistent/f"},
		{[]string{"verify", "--dsc", "/nonexistent/x.dsc", "--unsigned", "u"}, exitFail, "", "/nonexistent/x.dsc"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, &stdout, &stderr)
		if strings.Count(stdout.String(), "Usage:") > 1 {
			t.Errorf("run(%q) printed the usage twice", c.args)
		}
		if code != c.code || !strings.Contains(stdout.String(), c.stdout) || !strings.Contains(stderr.String(), c.errs) {
			t.Errorf("run(%q) = %d, stdout %q, stderr %q; want %d, %q, %q", c.args, code, stdout.String(), stderr.String(), c.code, c.stdout, c.errs)
		}
	}
}

// TestParseInterleaved: flags may follow positional arguments, as Go's
// flag package alone would not allow.
func TestParseInterleaved(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	fs := newFlagSet("x", "", "", &out)
	typ := fs.String("type", "", "")
	pos, err := parse(fs, []string{"a", "--type", "efi", "b", "--", "--c"})
	if err != nil || *typ != "efi" || strings.Join(pos, ",") != "a,b,--c" {
		t.Errorf("got %q, %q, %v", pos, *typ, err)
	}
}

// TestInterrupted: a cancelled context is exit 130 with a message.
func TestInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"generate", "--dry-run", "--template", "../../testdata/debian/shim-helpers-amd64-signed-template_16.1-2~deb12u1_amd64.deb",
		"--unsigned", "../../testdata/debian/shim-unsigned_16.1-2~deb12u1_amd64.deb"}, &stdout, &stderr)
	if code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("cancelled run: %d, stderr %q", code, stderr.String())
	}
}

// TestInterruptedCommands: verify, attach and detach stop as interrupted
// (exit 130, nothing written) when the context is cancelled; they used to
// ignore it and ran to their end.
func TestInterruptedCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	signed, err := os.ReadFile("../../testdata/debian/dummy.ko") // signed at build time
	if err != nil {
		t.Fatal(err)
	}
	module, sig, err := kmod.Detach(signed)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ko, sigFile := write("dummy.ko", module), write("dummy.ko.sig", sig)
	dsc := write("x_1.dsc", []byte("Format: 3.0 (native)\nSource: x\nVersion: 1\nChecksums-Sha256:\n "+strings.Repeat("0", 64)+" 1 x_1.tar.xz\n"))
	write("x_1.tar.xz", []byte("x"))
	out := filepath.Join(dir, "out")
	for _, c := range []struct {
		args []string
		code int // when not cancelled
	}{
		{[]string{"detach", "--type", "linux-module", "--output", out, "../../testdata/debian/dummy.ko"}, exitOK},
		{[]string{"attach", "--type", "linux-module", "--signature", sigFile, "--output", out, ko}, exitOK},
		{[]string{"verify", "--dsc", dsc, "--unsigned", ko}, exitFail}, // the tarball's checksum
	} {
		args := c.args
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != c.code {
			t.Errorf("%s, not cancelled: exit %d, stderr %q; want %d", args[0], code, stderr.String(), c.code)
		}
		os.Remove(out)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		stdout.Reset()
		stderr.Reset()
		code := run(ctx, args, &stdout, &stderr)
		if code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted") {
			t.Errorf("%s, cancelled: exit %d, stdout %q, stderr %q; want %d and \"interrupted\"", args[0], code, stdout.String(), stderr.String(), exitInterrupted)
		}
		if _, err := os.Lstat(out); err == nil {
			t.Errorf("%s, cancelled: wrote %s", args[0], out)
		}
	}
}

// TestHelpAndBadFlags: -h and --help print a subcommand's help on stdout
// and exit 0; a bad flag prints the message and the help on stderr, nothing
// on stdout, and exits 2. The help lists every flag as --name, as the
// synopsis writes them, never as -name.
func TestHelpAndBadFlags(t *testing.T) {
	t.Parallel()
	flagLine := regexp.MustCompile(`(?m)^[ \t]*-+[a-z][a-z0-9-]*`)
	for _, c := range []struct {
		command string
		flags   []string
	}{
		{"generate", []string{"template", "unsigned", "key", "pkcs11-module", "key-passphrase-file", "cert", "signatures", "output", "dry-run", "jobs", "stop-early", "audit-log", "requester", "changes", "upload-key", "upload-passphrase-file", "upload-key-id", "quiet", "json"}},
		{"request", []string{"template", "unsigned", "output", "jobs", "stop-early"}},
		{"verify", []string{"dsc", "unsigned", "signed", "cert"}},
		{"attach", []string{"type", "signature", "output", "cert"}},
		{"detach", []string{"type", "output"}},
	} {
		for _, h := range []string{"-h", "--help"} {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{c.command, h}, &stdout, &stderr)
			help := stdout.String()
			if code != exitOK || stderr.Len() != 0 || !strings.HasPrefix(help, "Usage:\n  mksigned "+c.command+" ") {
				t.Errorf("mksigned %s %s = %d, stdout %q, stderr %q; want %d and the help on stdout only", c.command, h, code, help, stderr.String(), exitOK)
			}
			_, flags, _ := strings.Cut(help, "\nFlags:\n")
			var got []string
			for _, l := range flagLine.FindAllString(flags, -1) {
				got = append(got, strings.TrimSpace(l))
			}
			var want []string
			for _, f := range c.flags {
				want = append(want, "--"+f)
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("mksigned %s %s lists the flags %q, want %q", c.command, h, got, want)
			}
		}

		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{c.command, "--bogus"}, &stdout, &stderr)
		want := "mksigned " + c.command + ": flag provided but not defined: --bogus\nUsage:\n  mksigned " + c.command + " "
		if code != exitUsage || stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), want) || !strings.Contains(stderr.String(), "\n  --"+c.flags[0]+" ") {
			t.Errorf("mksigned %s --bogus = %d, stdout %q, stderr %q; want %d, nothing on stdout, and the message then the help on stderr",
				c.command, code, stdout.String(), stderr.String(), exitUsage)
		}
	}
}

// TestFlagMessagesLongForm: the flag package's own messages name flags
// the way the help does, --name.
func TestFlagMessagesLongForm(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"generate", "-bogus"}, "flag provided but not defined: --bogus\n"},
		{[]string{"generate", "--jobs", "x"}, `invalid value "x" for flag --jobs: parse error` + "\n"},
		{[]string{"generate", "--key"}, "flag needs an argument: --key\n"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("mksigned %q = %d, stderr %q; want exit %d and %q", c.args, code, stderr.String(), exitUsage, c.want)
		}
	}
}

// TestUnknownEnvRefused: an unknown $MKSIGNED_DECOMPRESS is refused, as
// an unknown $MKSIGNED_CRYPTO is, before any work (a dry run that would
// succeed, a verify whose .dsc is missing), and "auto" is the default.
func TestUnknownEnvRefused(t *testing.T) {
	tmpl, unsigned := "../../testdata/debian/shim-helpers-amd64-signed-template_16.1-2~deb12u1_amd64.deb", "../../testdata/debian/shim-unsigned_16.1-2~deb12u1_amd64.deb"
	dryRun := []string{"generate", "--dry-run", "--template", tmpl, "--unsigned", unsigned}
	key := testutil.NewKey(t, 2048)
	for _, c := range []struct {
		env, value string
		args       []string
		code       int
		want       string
	}{
		{"MKSIGNED_DECOMPRESS", "bogus", dryRun, exitFail, `mksigned: $MKSIGNED_DECOMPRESS is "bogus": want go, external or auto` + "\n"},
		{"MKSIGNED_DECOMPRESS", "Go", dryRun, exitFail, `$MKSIGNED_DECOMPRESS is "Go"`},
		{"MKSIGNED_DECOMPRESS", "bogus", []string{"verify", "--dsc", "/nonexistent/x.dsc", "--unsigned", unsigned}, exitFail, `$MKSIGNED_DECOMPRESS is "bogus"`},
		{"MKSIGNED_DECOMPRESS", "auto", dryRun, exitOK, ""},
		{"MKSIGNED_CRYPTO", "bogus", append(dryRun, "--key", key.KeyPath, "--cert", key.CertPath), exitFail, `$MKSIGNED_CRYPTO is "bogus": want go, openssl or auto`},
	} {
		t.Setenv(c.env, c.value)
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, &stdout, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.want) || c.want == "" && stderr.Len() != 0 {
			t.Errorf("%s=%s mksigned %q = %d, stderr %q; want %d and %q", c.env, c.value, c.args, code, stderr.String(), c.code, c.want)
		}
		os.Unsetenv(c.env)
	}
}
