package tests

// Interrupts reach the readers and decoders: a small package that
// decodes to gigabytes stops within moments of SIGINT or SIGTERM (exit
// 130, nothing written), in generate, its dry run and verify; a failure
// in one package stops the others at once; compressing a large template
// stops too; and Ctrl-C on a terminal, which signals the whole process
// group, is an interruption, not a failure of xz.

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
)

// zeroUnit is how many zero bytes one copy of the zero stream holds.
const zeroUnit = 8 << 20

// tarPart is one regular file of a tar built by xzTar: data, or zeros
// zero bytes (a multiple of zeroUnit).
type tarPart struct {
	name  string
	data  []byte
	zeros int64
}

// xzOf compresses b into one xz stream with the xz program.
func xzOf(t *testing.T, b []byte) []byte {
	t.Helper()
	cmd := exec.Command(testutil.RequireTool(t, "xz"), "-0", "-T1", "-c")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// xzTar returns a tar of parts compressed as concatenated xz streams (xz
// -d and the Go decoder read them as one): each zeroUnit of zeros is a
// copy of the same 1.4 KB stream, so 16 GiB of zeros cost 2.8 MB and no
// time to make, and take about a minute to decode.
func xzTar(t *testing.T, parts ...tarPart) []byte {
	t.Helper()
	zero := xzOf(t, make([]byte, zeroUnit))
	var out, pending bytes.Buffer
	flush := func() {
		if pending.Len() > 0 {
			out.Write(xzOf(t, pending.Bytes()))
			pending.Reset()
		}
	}
	for _, p := range parts {
		size := int64(len(p.data))
		if p.zeros > 0 {
			size = p.zeros
		}
		// Only the header: the body goes around tar.Writer.
		tw := tar.NewWriter(&pending)
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "./" + p.name, Size: size, Mode: 0o644,
			ModTime: time.Unix(1700000000, 0), Uname: "root", Gname: "root", Format: tar.FormatGNU}); err != nil {
			t.Fatal(err)
		}
		if p.zeros > 0 {
			if p.zeros%zeroUnit != 0 {
				t.Fatalf("%s: %d zeros is not a multiple of %d", p.name, p.zeros, zeroUnit)
			}
			flush()
			for range p.zeros / zeroUnit {
				out.Write(zero)
			}
			continue
		}
		pending.Write(p.data)
		pending.Write(make([]byte, -len(p.data)&511))
	}
	pending.Write(make([]byte, 1024)) // the end of the archive
	flush()
	return out.Bytes()
}

// bombDeb writes package pkg 1.0-1 with a control.tar.xz and a
// data.tar.xz, each starting with a file of zeros of the given size (none
// for 0), then the control file, or files.
func bombDeb(t *testing.T, pkg string, controlZeros, dataZeros int64, files ...tarPart) string {
	t.Helper()
	control := tarPart{name: "control", data: []byte("Package: " + pkg + "\nVersion: " + hardVersion +
		"\nArchitecture: amd64\nMaintainer: mksigned tests <tests@example.org>\nDescription: interrupt test package\n")}
	ctl := []tarPart{control}
	if controlZeros > 0 {
		ctl = []tarPart{{name: "filler", zeros: controlZeros}, control}
	}
	if dataZeros > 0 {
		files = append([]tarPart{{name: "usr/share/filler", zeros: dataZeros}}, files...)
	}
	p := filepath.Join(t.TempDir(), pkg+"_"+hardVersion+"_amd64.deb")
	writeDeb(t, p, arMember{"debian-binary", []byte("2.0\n"), -1},
		arMember{"control.tar.xz", xzTar(t, ctl...), -1}, arMember{"data.tar.xz", xzTar(t, files...), -1})
	return p
}

// startGroup starts the binary bin (mksignedBin or plainBin) with args in
// a process group of its own, as a shell starts a foreground job, without
// waiting for it.
func startGroup(t *testing.T, bin string, env []string, args ...string) (*exec.Cmd, *bytes.Buffer, <-chan error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	return cmd, &stderr, exited
}

// watchOpen returns a channel that is closed when path is opened, as
// inotify reports it. Call it before the process starts.
func watchOpen(t *testing.T, path string) <-chan struct{} {
	t.Helper()
	return watchNames(t, filepath.Dir(path), regexp.MustCompile("^"+regexp.QuoteMeta(filepath.Base(path))+"$"), syscall.IN_OPEN)
}

// waitOpen waits for opened (from watchOpen): the process then has its
// signal handlers (main installs them before any work). It fails the test
// if the process ends first or takes more than 10 s.
func waitOpen(t *testing.T, opened <-chan struct{}, exited <-chan error) {
	t.Helper()
	select {
	case <-opened:
	case err := <-exited:
		t.Fatalf("mksigned ended (%v) before it opened its input", err)
	case <-time.After(10 * time.Second):
		t.Fatal("mksigned did not open its input within 10s")
	}
}

// wantInterrupted waits for the run to end, at most limit after the
// signal was sent, and requires exit 130 with "interrupted" on stderr,
// nothing in parent (if set) and no process of the run left (marker).
func wantInterrupted(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer, exited <-chan error, limit time.Duration, parent, marker string) {
	t.Helper()
	sent := time.Now()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
	case <-time.After(limit):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		t.Fatalf("still running %v after the signal (killed); stderr: %s", limit, stderr)
	}
	noRace(t, stderr.String())
	if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("exit %d (%v) %v after the signal, stderr %q; want 130 and \"interrupted\"", code, cmd.ProcessState, time.Since(sent), stderr)
	}
	if parent != "" {
		if names := dirNames(t, parent); len(names) > 0 {
			t.Errorf("left %q in the output's parent, want nothing", names)
		}
	}
	if pids := leftoverProcesses(marker); len(pids) > 0 {
		t.Errorf("processes %v of the run still running after it ended", pids)
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// interrupt starts bin, waits until it has path open and then for
// settle, sends sig to it alone, and requires it to stop as interrupted
// within five seconds.
func interrupt(t *testing.T, bin string, env []string, path string, settle time.Duration, sig syscall.Signal, parent string, args ...string) {
	t.Helper()
	isolated, _, marker := isolatedEnv(t)
	opened := watchOpen(t, path)
	cmd, stderr, exited := startGroup(t, bin, append(isolated, env...), args...)
	waitOpen(t, opened, exited)
	time.Sleep(settle) // well into the decoding, which takes a minute
	select {
	case err := <-exited:
		t.Fatalf("mksigned ended (%v) before the signal; stderr: %s", err, stderr)
	default:
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	wantInterrupted(t, cmd, stderr, exited, 5*time.Second, parent, marker)
}

// TestInterruptDecoding: a 2.8 MB package whose data.tar.xz holds 16 GiB
// of zeros before the listed module (a minute to decode) stops within
// seconds of SIGINT or SIGTERM, with either decoder; so does a dry run
// decoding 8 GiB of zeros in control.tar.xz, and verify reading such a
// package. Interrupts used to be noticed only between tar entries.
func TestInterruptDecoding(t *testing.T) {
	module := unsignedModule(t)
	key := testutil.NewKey(t, 2048)
	listed := hardModule + ":linux-module"
	tmpl := hardTemplate(t, listed)
	dataBomb := bombDeb(t, hardPkg, 0, 16<<30, tarPart{name: hardModule, data: module})
	controlBomb := bombDeb(t, hardPkg, 8<<30, 0, tarPart{name: hardModule, data: module})

	for _, decoder := range []string{"external", "go"} {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			t.Run("generate/"+decoder+"/"+sig.String(), func(t *testing.T) {
				parent := t.TempDir()
				interrupt(t, mksignedBin, []string{"MKSIGNED_DECOMPRESS=" + decoder}, dataBomb, 500*time.Millisecond, sig, parent,
					"generate", "--template", tmpl, "--unsigned", dataBomb, "--key", key.KeyPath, "--cert", key.CertPath,
					"--output", filepath.Join(parent, "out"))
			})
		}
		t.Run("dry run, control.tar.xz/"+decoder, func(t *testing.T) {
			interrupt(t, mksignedBin, []string{"MKSIGNED_DECOMPRESS=" + decoder}, controlBomb, 500*time.Millisecond, syscall.SIGINT, "",
				"generate", "--dry-run", "--template", tmpl, "--unsigned", controlBomb)
		})
	}

	t.Run("verify", func(t *testing.T) {
		// The source package, from the same package without the zeros.
		out := filepath.Join(t.TempDir(), "out")
		small := bombDeb(t, hardPkg, 0, 0, tarPart{name: hardModule, data: module})
		mustMksigned(t, "", nil, "generate", "--template", tmpl, "--unsigned", small,
			"--key", key.KeyPath, "--cert", key.CertPath, "--output", out)
		interrupt(t, mksignedBin, nil, dataBomb, 500*time.Millisecond, syscall.SIGINT, "",
			"verify", "--dsc", filepath.Join(out, hardDSC), "--unsigned", dataBomb, "--cert", key.CertPath)
	})
}

// TestFailureStopsOtherPackages: when one package fails, the run ends at
// once, with its error, however long the package read beside it would
// take (16 GiB of zeros: a minute). It used to wait for that package:
// the readers looked for a failure only between entries.
func TestFailureStopsOtherPackages(t *testing.T) {
	module := unsignedModule(t)
	tmpl := hardTemplate(t, hardModule+":linux-module")
	// A second package, whose listed file is missing: it fails once
	// its 256 MiB of zeros are decoded, when the first is well into its
	// 16 GiB (reached in milliseconds).
	const other = "other-unsigned"
	writeFile(t, filepath.Join(tmpl, "files.json"), []byte(`{"packages": {
  "`+hardPkg+`": {"trusted_certs": [], "files": [{"sig_type": "linux-module", "file": "`+hardModule+`"}]},
  "`+other+`": {"trusted_certs": [], "files": [{"sig_type": "efi", "file": "usr/lib/other/missing.efi"}]}}}`), 0o644)
	slow := bombDeb(t, hardPkg, 0, 16<<30, tarPart{name: hardModule, data: module})
	bad := bombDeb(t, other, 0, 256<<20, tarPart{name: "usr/lib/other/present.efi", data: []byte("MZ")})
	for _, order := range [][]string{{slow, bad}, {bad, slow}} {
		args := []string{"generate", "--dry-run", "--jobs", "2", "--template", tmpl}
		for _, d := range order {
			args = append(args, "--unsigned", d)
		}
		r, took, _ := runLimited(t, 15*time.Second, nil, args...)
		const want = "usr/lib/other/missing.efi: listed in files.json but not in the package"
		if r.code != 1 || !strings.Contains(r.stderr, want) || took > 10*time.Second {
			t.Errorf("%s first: exit %d after %v, stderr %q; want exit 1 at once with %q", filepath.Base(order[0]), r.code, took, r.stderr, want)
		}
	}
}

// TestInterruptCompressing: compressing a large template's tarball (24 MiB
// that do not compress: several seconds) stops at SIGINT; it used to
// count as a write under way and ran to its end.
func TestInterruptCompressing(t *testing.T) {
	module := unsignedModule(t)
	tmpl := hardTemplate(t, hardModule+":linux-module")
	for i := range 3 {
		noise := make([]byte, 8<<20)
		rand.NewChaCha8([32]byte{byte(i)}).Read(noise)
		writeFile(t, filepath.Join(tmpl, "source-template", "debian", fmt.Sprintf("noise%d", i)), noise, 0o644)
	}
	key := testutil.NewKey(t, 2048)
	deb := bombDeb(t, hardPkg, 0, 0, tarPart{name: hardModule, data: module})
	parent := t.TempDir()
	// Once the package is open, reading and signing take milliseconds:
	// the rest of the run is compressing, on two Ps (--jobs 1 and
	// GOMAXPROCS=1 give Procs(1, 1)), so at least two seconds on any
	// machine. The race detector makes each 1 MiB chunk take seconds to
	// compress (the time an interrupt waits for): the bound is about the
	// binary users run.
	interrupt(t, plainBin, []string{"GOMAXPROCS=1"}, deb, time.Second, syscall.SIGINT, parent,
		"generate", "--jobs", "1", "--template", tmpl, "--unsigned", deb, "--key", key.KeyPath, "--cert", key.CertPath,
		"--output", filepath.Join(parent, "out"))
}

// TestCtrlC sends SIGINT to the run's whole process group, as Ctrl-C on a
// terminal does, at random moments while the xz program decodes: each
// time the run must end as interrupted (130), never as a failure of xz.
// xz used to die of the signal first, and the run ended with exit 1 and
// "data.tar.xz: xz: signal: interrupt".
func TestCtrlC(t *testing.T) {
	module := unsignedModule(t)
	tmpl := hardTemplate(t, hardModule+":linux-module")
	deb := bombDeb(t, hardPkg, 0, 16<<30, tarPart{name: hardModule, data: module})
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	for i := range 30 {
		settle := time.Duration(rng.IntN(300)) * time.Millisecond
		t.Run(fmt.Sprintf("%d/%v", i, settle), func(t *testing.T) {
			env, _, marker := isolatedEnv(t)
			opened := watchOpen(t, deb)
			cmd, stderr, exited := startGroup(t, mksignedBin, append(env, "MKSIGNED_DECOMPRESS=external"),
				"generate", "--dry-run", "--template", tmpl, "--unsigned", deb)
			waitOpen(t, opened, exited)
			time.Sleep(settle)
			if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			wantInterrupted(t, cmd, stderr, exited, 5*time.Second, "", marker)
		})
	}
}
