package main

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/testutil"
	"github.com/mksigned/mksigned/template"
)

// runInit runs mksigned template init in-process.
func runInit(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), append([]string{"template", "init"}, args...), &o, &e)
	return code, o.String(), e.String()
}

// TestTemplateInitFwupd: the proposal for Debian's fwupd-unsigned is the
// golden one, and ParseYAML takes it as it is (tests/ builds it).
func TestTemplateInitFwupd(t *testing.T) {
	t.Parallel()
	code, out, errs := runInit(t, "--unsigned", testutil.DebianFixture(t, "fwupd-unsigned_1.4-1_amd64.deb"))
	if code != exitOK || errs != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, errs)
	}
	testutil.Golden(t, "template-init-fwupd.yaml", []byte(out))
	spec, err := template.ParseYAML("signing.yaml", []byte(out))
	if err != nil {
		t.Fatalf("ParseYAML of the proposal: %v", err)
	}
	if spec.Source != "fwupd-amd64-signed" || spec.Maintainer != "Debian EFI <debian-efi@lists.debian.org>" ||
		spec.Homepage != "https://github.com/fwupd/fwupd-efi" || !strings.HasPrefix(spec.License, "LGPL-2.1+\n") {
		t.Errorf("proposal parsed as source %q, maintainer %q, homepage %q, license %.20q",
			spec.Source, spec.Maintainer, spec.Homepage, spec.License)
	}
	if len(spec.Packages) != 1 || len(spec.Packages[0].Files) != 1 ||
		spec.Packages[0].Files[0].File != (template.File{Path: "usr/libexec/fwupd/efi/fwupdx64.efi", SigType: template.EFI}) {
		t.Errorf("proposal's packages: %+v, want fwupd-unsigned signing fwupdx64.efi as efi", spec.Packages)
	}
}

// fwupdEFI is fwupdx64.efi from Debian's fwupd-unsigned: a real PE image.
func fwupdEFI(t *testing.T) string {
	t.Helper()
	var efi []byte
	_, err := deb.ReadFile(testutil.DebianFixture(t, "fwupd-unsigned_1.4-1_amd64.deb"), func(_ *deb.Package, e *deb.Entry, body io.Reader) error {
		if e.Path == "usr/libexec/fwupd/efi/fwupdx64.efi" {
			var err error
			efi, err = io.ReadAll(body)
			return err
		}
		return nil
	})
	if err != nil || efi == nil {
		t.Fatalf("reading fwupdx64.efi: %v", err)
	}
	return string(efi)
}

const initControl = "Package: vendor-modules\nVersion: 2.0-1\nArchitecture: amd64\nMaintainer: Vendor Ltd <pkg@vendor.example>\nSection: kernel\nDescription: x\n x\n"

// TestTemplateInitKinds: each kind of file init meets, in a package made
// here: PE images and .ko modules proposed, compressed modules and a .ko
// that is no module listed with the reason, other files (an ELF object
// not named .ko, a link to an image, a text file named .efi) left out. A
// package without a machine-readable copyright gets TODO placeholders.
func TestTemplateInitKinds(t *testing.T) {
	t.Parallel()
	ko, err := os.ReadFile(testutil.DebianFixture(t, "dummy.ko"))
	if err != nil {
		t.Fatal(err)
	}
	efi := fwupdEFI(t)
	reg := func(name, body string) testutil.TarEntry {
		return testutil.TarEntry{Name: name, Type: tar.TypeReg, Mode: 0o644, Body: body}
	}
	data := testutil.Tar(t,
		testutil.TarEntry{Name: "./", Type: tar.TypeDir, Mode: 0o755},
		reg("./lib/modules/6.1.0-57-amd64/updates/dummy.ko", string(ko)),
		reg("./lib/modules/6.1.0-57-amd64/updates/other.ko.xz", "\xfd7zXZ\x00 not really"),
		reg("./lib/modules/6.1.0-57-amd64/updates/third.ko.zst", "\x28\xb5\x2f\xfd"),
		reg("./lib/modules/6.1.0-57-amd64/updates/broken.ko", "not an ELF file"),
		reg("./usr/lib/vendor/object.o", string(ko)),
		reg("./usr/lib/vendor/tool.efi", efi),
		reg("./usr/lib/vendor/readme.efi", "MZ but no more"),
		reg("./usr/lib/vendor/with space.efi", efi),
		testutil.TarEntry{Name: "./usr/lib/vendor/link.efi", Type: tar.TypeSymlink, Linkname: "tool.efi"},
		reg("./usr/share/doc/vendor-modules/copyright", "Some free-form copyright.\n"),
	)
	p := filepath.Join(t.TempDir(), "vendor-modules_2.0-1_amd64.deb")
	if err := os.WriteFile(p, testutil.Deb(t, initControl, data), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runInit(t, "--unsigned", p)
	if code != exitOK || errs != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, errs)
	}
	testutil.Golden(t, "template-init-kinds.yaml", []byte(out))
}

// TestTemplateInitBad: usage errors exit 2, bad input 1, and neither
// writes --output.
func TestTemplateInitBad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fwupd := testutil.DebianFixture(t, "fwupd-unsigned_1.4-1_amd64.deb")
	existing := filepath.Join(dir, "existing.yaml")
	if err := os.WriteFile(existing, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	newOut := filepath.Join(dir, "new.yaml")
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"nothing to sign", []string{"--unsigned", testutil.DebianFixture(t, "fwupd-amd64-signed-template_1.4-1_amd64.deb"), "--output", newOut},
			exitFail, "mksigned: fwupd-amd64-signed-template: nothing to sign: no PE/COFF image and no ELF relocatable .ko module\n"},
		{"output exists", []string{"--unsigned", fwupd, "--output", existing}, exitFail, "--output " + existing + " exists: give the name of a new file"},
		{"given twice", []string{"--unsigned", fwupd, "--unsigned", fwupd, "--output", newOut}, exitFail, "package fwupd-unsigned is given twice"},
		{"not a deb", []string{"--unsigned", existing, "--output", newOut}, exitFail, existing + ": "},
		{"no unsigned", []string{"--output", newOut}, exitUsage, "--unsigned is required"},
		{"positional", []string{"--unsigned", fwupd, "signing.yaml"}, exitUsage, `want no arguments, got ["signing.yaml"]`},
	} {
		code, out, errs := runInit(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.want) || out != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d, nothing, stderr with %q", c.name, code, out, errs, c.code, c.want)
		}
	}
	if got := testutil.ListDir(t, dir); len(got) != 1 {
		t.Errorf("%s holds %q, want only existing.yaml", dir, got)
	}
	if b, _ := os.ReadFile(existing); string(b) != "old" {
		t.Errorf("existing --output now holds %q, want it left as it was", b)
	}
	// --output writes the file, and says so.
	code, out, errs := runInit(t, "--unsigned", fwupd, "--output", newOut)
	if b, err := os.ReadFile(newOut); code != exitOK || errs != "" || out != "wrote "+newOut+"\n" || err != nil || !bytes.HasPrefix(b, []byte("# signing.yaml proposed")) {
		t.Errorf("--output: exit %d, stdout %q, stderr %q, file %.30q, %v", code, out, errs, b, err)
	}
}

// TestTemplateInitFIFO: a FIFO given as --unsigned is refused at once;
// opened blocking it would hang template init, even past SIGTERM. (After
// 10 s the test opens it for writing, so that a blocked open returns.)
func TestTemplateInitFIFO(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "x.deb")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
				f.Close()
			}
		}
	}()
	code, out, errs := runInit(t, "--unsigned", fifo)
	if code != exitFail || out != "" || !strings.Contains(errs, fifo+": not a regular file: a named pipe") {
		t.Errorf("exit %d, stdout %q, stderr %q; want %d, nothing, and the FIFO refused", code, out, errs, exitFail)
	}
}

// TestTemplateInitThenBuild: template build takes init's proposal for
// Debian's unsigned packages unchanged.
func TestTemplateInitThenBuild(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"fwupd-unsigned_1.4-1_amd64.deb", "shim-unsigned_16.1-2~deb12u1_amd64.deb"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			spec := filepath.Join(dir, "signing.yaml")
			unsigned := testutil.DebianFixture(t, name)
			if code, _, errs := runInit(t, "--unsigned", unsigned, "--output", spec); code != exitOK {
				t.Fatalf("template init: exit %d, %s", code, errs)
			}
			var o, e bytes.Buffer
			args := []string{"template", "build", spec, "--unsigned", unsigned, "--output", filepath.Join(dir, "t"), "--deb", dir}
			if code := run(context.Background(), args, &o, &e); code != exitOK {
				t.Fatalf("template build of init's proposal: exit %d, %s", code, e.String())
			}
			if got := testutil.ListDir(t, dir); len(got) != 3 || !strings.HasSuffix(got[0], "-amd64-signed-template_"+strings.SplitN(name, "_", 2)[1]) {
				t.Errorf("%s holds %q, want the template .deb (named after the unsigned package's version), signing.yaml and t", dir, got)
			}
		})
	}
}
