package tests

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
)

// The EFI example, debian-examples/hello-efi, and what boots it.
const (
	helloEFIDir      = "debian-examples/hello-efi"
	helloEFIUnsigned = "hello-efi-unsigned_1.0_amd64.deb"
	helloEFISigned   = "hello-efi-signed_1+1.0_amd64.deb"
	helloEFIPath     = "usr/lib/hello-efi/hello.efi"
	helloEFILine     = "hello-efi: Secure Boot OK"
	gnuEFICrt0       = "/usr/lib/crt0-efi-x86_64.o"
	ovmfCode         = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
	ovmfVars         = "/usr/share/OVMF/OVMF_VARS_4M.fd"
	// bootTimeout bounds one QEMU run. A boot under accel=tcg takes about
	// 6 s alone on this project's machines and 20 s with three at once
	// on two cores; the margin is for a loaded CI machine.
	bootTimeout = 150 * time.Second
	// ovmfGaveUp is what OVMF prints once every boot option has failed:
	// after it, the firmware waits for a key forever.
	ovmfGaveUp = "No bootable option or device was found"
)

// requireFile fails the test under CI (which installs the package holding
// path) and skips it otherwise.
func requireFile(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing (CI must install %s: see .ci/run): %v", path, pkg, err)
		}
		t.Skipf("skipping: %s not installed (apt-get install %s)", path, pkg)
	}
}

// helloEFISignedSource is the maintainer's half of the loop: build the
// example's unsigned package from a copy of its source with mksigned's
// hook, which turns it and its debian/signing.yaml into the -signed source
// package, signed with debian-examples/test-key. It returns the unsigned
// .deb and the signed .dsc.
func helloEFISignedSource(t *testing.T) (unsigned, dsc string) {
	t.Helper()
	testutil.RequireTool(t, "objcopy")
	requireFile(t, gnuEFICrt0, "gnu-efi")
	src, dsc := hookBuildExample(t, "hello-efi", "hello-efi_1.0_amd64.changes", "hello-efi-signed_1+1.0")
	return onlyFile(t, filepath.Dir(src), helloEFIUnsigned), dsc
}

// TestExampleHelloEFI goes the whole way with debian-examples/hello-efi:
// the unsigned build with the hook, which writes the -signed source
// package, its build (without installing the unsigned package: see
// buildSigned), sbverify of the signed image, and three boots under Secure
// Boot with only the example's own keys enrolled: the signed image runs
// and prints its line; the unsigned one and one signed by another key are
// refused.
func TestExampleHelloEFI(t *testing.T) {
	sbverify := testutil.RequireTool(t, "sbverify")
	sbsign := testutil.RequireTool(t, "sbsign")
	testutil.RequireTool(t, "sbattach")
	testutil.RequireTool(t, "dpkg-source")
	testutil.RequireTool(t, "qemu-system-x86_64")
	testutil.RequireTool(t, "virt-fw-vars")
	requireFile(t, ovmfCode, "ovmf")
	requireFile(t, ovmfVars, "ovmf")
	_, cert := exampleKey(t)

	unsigned, dsc := helloEFISignedSource(t)
	build := buildSigned(t, dsc, unsigned)
	signedEFI := filepath.Join(extract(t, filepath.Join(build, helloEFISigned)), helloEFIPath+".signed")
	unsignedEFI := filepath.Join(extract(t, unsigned), helloEFIPath)
	testutil.Run(t, "", sbverify, "--cert", cert, signedEFI)

	// The same image signed by a key the firmware does not know.
	otherKey, otherCert := newKey(t, "2048")
	otherEFI := filepath.Join(t.TempDir(), "other.efi")
	testutil.Run(t, "", sbsign, "--key", otherKey, "--cert", otherCert, "--output", otherEFI, unsignedEFI)
	if err := exec.Command(sbverify, "--cert", cert, otherEFI).Run(); err == nil {
		t.Fatalf("sbverify --cert %s passed the image signed by another key", cert)
	}

	// The three boots run at once, each bounded by bootTimeout; then each
	// is checked.
	vars := secureBootVars(t, cert)
	boots := []struct {
		name, efi string
		runs      bool
		serial    string
		exited    bool
		took      time.Duration
		err       error
	}{
		{name: "signed", efi: signedEFI, runs: true},
		{name: "unsigned", efi: unsignedEFI},
		{name: "other-key", efi: otherEFI},
	}
	var wg sync.WaitGroup
	for i := range boots {
		b := &boots[i]
		dir := bootDir(t, b.efi, vars)
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			b.serial, b.exited, b.err = bootEFI(dir)
			b.took = time.Since(start).Round(100 * time.Millisecond)
		}()
	}
	wg.Wait()
	for _, b := range boots {
		t.Run("boot-"+b.name, func(t *testing.T) {
			t.Logf("boot took %v", b.took)
			if b.err != nil {
				t.Fatalf("%v\nserial output:\n%s", b.err, b.serial)
			}
			ran := strings.Contains(b.serial, helloEFILine)
			switch {
			case b.runs && (!ran || !b.exited):
				t.Errorf("the signed image did not run (printed its line: %v; shut the VM down: %v); serial output:\n%s", ran, b.exited, b.serial)
			case !b.runs && ran:
				t.Errorf("the firmware ran the %s image; serial output:\n%s", b.name, b.serial)
			case !b.runs && !refused(b.serial):
				t.Errorf("the firmware did not say it refused the %s image (Access Denied); serial output:\n%s", b.name, b.serial)
			}
		})
	}
}

// refused reports whether OVMF's boot manager said it failed to load the
// disk's boot option for want of a valid signature.
func refused(serial string) bool {
	for _, l := range strings.Split(serial, "\n") {
		if strings.Contains(l, "failed to load") && strings.Contains(l, "HARDDISK") &&
			(strings.Contains(l, "Access Denied") || strings.Contains(l, "Security Violation")) {
			return true
		}
	}
	return false
}

// secureBootVars writes an OVMF varstore with Secure Boot on and a fresh
// PK and KEK and db as the only certificates enrolled, checks it with
// virt-fw-vars --print, and returns its path.
func secureBootVars(t *testing.T, db string) string {
	t.Helper()
	dir := t.TempDir()
	// Throwaway PK and KEK, each with a subject of its own.
	pk, kek := filepath.Join(dir, "PK.crt"), filepath.Join(dir, "KEK.crt")
	for _, c := range []string{pk, kek} {
		name := strings.TrimSuffix(filepath.Base(c), ".crt")
		testutil.Run(t, dir, "openssl", "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
			"-days", "3650", "-subj", "/CN=hello-efi test "+name+"/", "-keyout", filepath.Join(dir, name+".key"), "-out", c)
	}
	const owner = "a3b9c36e-3f65-4c1a-9d62-6d6b73696e65"
	vars := filepath.Join(dir, "vars.fd")
	testutil.Run(t, "", "virt-fw-vars", "--input", ovmfVars, "--output", vars,
		"--set-pk", owner, pk, "--add-kek", owner, kek, "--add-db", owner, db, "--secure-boot")
	printed := string(testutil.Run(t, "", "virt-fw-vars", "--input", vars, "--print", "--verbose"))
	subject := func(cert string) string {
		return strings.TrimSpace(strings.TrimPrefix(string(testutil.Run(t, "", "openssl", "x509", "-in", cert,
			"-noout", "-subject", "-nameopt", "RFC2253")), "subject="))
	}
	// Each of PK, KEK and db holds one list of one X.509 certificate: ours.
	for _, v := range []struct{ name, cert string }{{"PK", pk}, {"KEK", kek}, {"db", db}} {
		block := varBlock(printed, v.name)
		want := "siglist type=guid:EfiCertX509 count=1\n    subject " + subject(v.cert) + "\n"
		if strings.Count(block, "siglist") != 1 || !strings.Contains(block, want) {
			t.Fatalf("virt-fw-vars --print: %s is not only %s:\n%s", v.name, subject(v.cert), printed)
		}
	}
	if !strings.Contains(varBlock(printed, "SecureBootEnable"), "bool: ON") {
		t.Fatalf("virt-fw-vars --print: Secure Boot is not on:\n%s", printed)
	}
	return vars
}

// varBlock returns variable name's lines in virt-fw-vars --print
// --verbose output: from "name=NAME " to the next blank line.
func varBlock(printed, name string) string {
	_, rest, ok := strings.Cut(printed, "name="+name+" ")
	if !ok {
		return ""
	}
	block, _, _ := strings.Cut(rest, "\n\n")
	return block + "\n"
}

// bootDir makes a directory for one boot: esp/EFI/BOOT/BOOTX64.EFI, a
// copy of efi, and vars.fd, a copy of vars.
func bootDir(t *testing.T, efi, vars string) string {
	t.Helper()
	dir := t.TempDir()
	for src, dst := range map[string]string{efi: "esp/EFI/BOOT/BOOTX64.EFI", vars: "vars.fd"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, dst), b, 0o644)
	}
	return dir
}

// bootEFI boots dir/esp under OVMF's Secure Boot firmware with the
// varstore dir/vars.fd, and returns the serial console's output and
// whether the VM shut itself down. The run ends when QEMU exits, when OVMF
// gives up (ovmfGaveUp), or after bootTimeout, an error. QEMU runs in a
// process group of its own, killed as a whole, and dies with this test
// process (Pdeathsig) if that is interrupted.
func bootEFI(dir string) (serial string, exited bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), bootTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64",
		"-machine", "q35,smm=on,accel=tcg", "-m", "256",
		"-global", "driver=cfi.pflash01,property=secure,value=on",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+ovmfCode,
		"-drive", "if=pflash,format=raw,unit=1,file="+filepath.Join(dir, "vars.fd"),
		"-drive", "format=raw,file=fat:rw:"+filepath.Join(dir, "esp"),
		"-display", "none", "-monitor", "none", "-serial", "stdio",
		"-net", "none", "-no-reboot")
	cmd.Dir = dir
	// Pdeathsig is sent when the thread that started QEMU ends: keep this
	// goroutine on its thread until QEMU is gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", false, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", false, err
	}
	// Reading ends when QEMU exits or is killed: by cancel once OVMF has
	// given up, or by the context's deadline.
	var out strings.Builder
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadString('\n')
		out.WriteString(strings.ReplaceAll(line, "\r", ""))
		if strings.Contains(line, ovmfGaveUp) {
			cancel()
		}
		if err != nil {
			break
		}
	}
	err = cmd.Wait()
	serial = out.String()
	switch {
	case err == nil:
		return serial, true, nil
	case strings.Contains(serial, ovmfGaveUp):
		return serial, false, nil
	case ctx.Err() == context.DeadlineExceeded:
		return serial, false, fmt.Errorf("QEMU still running after %v: killed", bootTimeout)
	default:
		return serial, false, fmt.Errorf("QEMU: %v\nstderr:\n%s", err, stderr.String())
	}
}
