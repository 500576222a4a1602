package tests

// Hardening: a run killed at any moment leaves no partial output and no
// stray files; decompression bombs and absurd sizes fail fast, with a clear
// error and bounded memory (issue 3, "3. Hardening").

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
)

// The synthetic unsigned package and its template.
const (
	hardPkg     = "hardening-unsigned"
	hardVersion = "1.0-1"
	hardSource  = "hardening-signed"
	hardDSC     = hardSource + "_1.0+1.dsc"
	hardTar     = hardSource + "_1.0+1.tar.xz"
	hardModule  = "lib/modules/6.1.0-57-amd64/kernel/drivers/net/dummy.ko"
	hardEFI     = "usr/lib/hardening/fwupdx64.efi"
)

// hardFile is one data.tar entry of a synthetic package.
type hardFile struct {
	name string
	// size is what the tar header claims; -1 means len(data), or n for body.
	size int64
	data []byte
	// body, when set, supplies the entry's bytes instead of data (n of them).
	body io.Reader
	n    int64
	// short ends the archive right after this entry's first bytes: no
	// further entries and no end marker.
	short bool
}

// writeDataTar writes a tar stream of files to w, as dpkg-deb would: GNU
// format, root-owned.
func writeDataTar(w io.Writer, files []hardFile) error {
	tw := tar.NewWriter(w)
	for _, f := range files {
		size := f.size
		if size < 0 {
			size = int64(len(f.data))
			if f.body != nil {
				size = f.n
			}
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: "./" + f.name, Size: size, Mode: 0o644,
			ModTime: time.Unix(1700000000, 0), Uname: "root", Gname: "root", Format: tar.FormatGNU}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		var src io.Reader = bytes.NewReader(f.data)
		if f.body != nil {
			src = io.LimitReader(f.body, f.n)
		}
		if f.short {
			// Bypass tar.Writer: the header is out, now a few body bytes
			// and nothing else.
			_, err := io.Copy(w, src)
			return err
		}
		if _, err := io.Copy(tw, src); err != nil {
			return err
		}
	}
	return tw.Close()
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// compressed returns the tar of files compressed with the named program
// ("xz -0", "zstd -1", ...; "" for none, "gzip" for Go's gzip), streamed
// through it, so gigabytes never sit in memory.
func compressed(t *testing.T, files []hardFile, program string) []byte {
	t.Helper()
	if program == "" {
		var b bytes.Buffer
		if err := writeDataTar(&b, files); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if program == "gzip" {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
		if err := writeDataTar(zw, files); err != nil {
			t.Fatal(err)
		}
		zw.Close()
		return b.Bytes()
	}
	argv := strings.Fields(program)
	testutil.RequireTool(t, argv[0])
	cmd := exec.Command(argv[0], append(argv[1:], "-c")...)
	pr, pw := io.Pipe()
	cmd.Stdin = pr
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.CloseWithError(writeDataTar(pw, files))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s: %v: %s", program, err, stderr.String())
	}
	return out.Bytes()
}

// arMember is one member of an ar archive; size, when not -1, is written
// in its header instead of the real length.
type arMember struct {
	name string
	data []byte
	size int64
}

// writeDeb writes an ar archive holding members, as dpkg-deb lays it out.
func writeDeb(t *testing.T, path string, members ...arMember) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range members {
		size := m.size
		if size < 0 {
			size = int64(len(m.data))
		}
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, 1700000000, 0, 0, "100644", size)
		b.Write(m.data)
		if len(m.data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	writeFile(t, path, b.Bytes(), 0o644)
}

// controlMember is control.tar.gz for package hardening-unsigned.
func controlMember(t *testing.T) arMember {
	t.Helper()
	return controlMemberOf(t, "Package: "+hardPkg+"\nVersion: "+hardVersion+"\nArchitecture: amd64\n"+
		"Maintainer: mksigned tests <tests@example.org>\nDescription: synthetic package for the hardening tests\n")
}

// controlMemberOf is control.tar.gz holding the control file text.
func controlMemberOf(t *testing.T, text string) arMember {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	control := []byte(text)
	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755},
		{Typeflag: tar.TypeReg, Name: "./control", Mode: 0o644, Size: int64(len(control))},
	} {
		h.Format, h.ModTime = tar.FormatGNU, time.Unix(1700000000, 0)
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Write(control)
	tw.Close()
	zw.Close()
	return arMember{"control.tar.gz", b.Bytes(), -1}
}

// hardDeb writes hardening-unsigned_1.0-1_amd64.deb with data (a data.tar
// compressed as suffix says) and returns its path.
func hardDeb(t *testing.T, dataSuffix string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), hardPkg+"_"+hardVersion+"_amd64.deb")
	writeDeb(t, p, arMember{"debian-binary", []byte("2.0\n"), -1}, controlMember(t),
		arMember{"data.tar" + dataSuffix, data, -1})
	return p
}

// hardTemplate writes a code-signing directory that signs the given files
// of hardening-unsigned, each "path:sig_type".
func hardTemplate(t *testing.T, files ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hardening-signed-template")
	var list []string
	for _, f := range files {
		path, sigType, _ := strings.Cut(f, ":")
		list = append(list, `{"sig_type": "`+sigType+`", "file": "`+path+`"}`)
	}
	writeFile(t, filepath.Join(dir, "files.json"), []byte(`{"packages": {"`+hardPkg+`": {"trusted_certs": [],
  "files": [`+strings.Join(list, ",\n    ")+`]}}}`), 0o644)
	st := filepath.Join(dir, "source-template", "debian")
	writeFile(t, filepath.Join(st, "changelog"), []byte(hardSource+` (1.0+1) unstable; urgency=medium

  * Sign `+hardPkg+` `+hardVersion+`.

 -- mksigned tests <tests@example.org>  Sat, 28 Nov 2026 12:00:00 +0000
`), 0o644)
	writeFile(t, filepath.Join(st, "control"), []byte(`Source: `+hardSource+`
Section: kernel
Priority: optional
Maintainer: mksigned tests <tests@example.org>
Build-Depends: debhelper-compat (= 13), `+hardPkg+` (= `+hardVersion+`)
Standards-Version: 4.6.2

Package: `+hardSource+`
Architecture: amd64
Description: signed files for the hardening tests
 Test package.
`), 0o644)
	writeFile(t, filepath.Join(st, "copyright"), []byte("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: none\nLicense: GPL-2\n"), 0o644)
	writeFile(t, filepath.Join(st, "rules"), []byte("#!/usr/bin/make -f\n%:\n\tdh $@\n"), 0o755)
	writeFile(t, filepath.Join(st, "source", "format"), []byte("3.0 (native)\n"), 0o644)
	return dir
}

// unsignedModule is Debian's dummy.ko without its build signature.
func unsignedModule(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile(testutil.DebianFixture(t, "dummy.ko"))
	if err != nil {
		t.Fatal(err)
	}
	return stripModule(t, raw)
}

// unsignedEFI is fwupd's unsigned fwupdx64.efi.
func unsignedEFI(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(extract(t, testutil.DebianFixture(t, fwupdUnsigned)), fwupdEFI))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// peSection returns the file offset of section i's header in a PE image.
func peSection(b []byte, i int) int {
	coff := int(binary.LittleEndian.Uint32(b[0x3c:])) + 4
	return coff + 20 + int(binary.LittleEndian.Uint16(b[coff+16:])) + 40*i
}

// peNumberOfSections returns the offset of NumberOfSections.
func peNumberOfSections(b []byte) int { return int(binary.LittleEndian.Uint32(b[0x3c:])) + 4 + 2 }

// isolatedEnv returns environment entries pointing TMPDIR, HOME and the
// XDG directories at new empty directories, and those directories, so a
// test can check that nothing was written there. A marker variable lets a
// test find any process the run left behind.
func isolatedEnv(t *testing.T) (env []string, dirs []string, marker string) {
	t.Helper()
	base := t.TempDir()
	marker = fmt.Sprintf("MKSIGNED_HARDENING_RUN=%d-%d", os.Getpid(), time.Now().UnixNano())
	for _, v := range []string{"TMPDIR", "HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR"} {
		d := filepath.Join(base, strings.ToLower(v))
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		env = append(env, v+"="+d)
		dirs = append(dirs, d)
	}
	return append(env, marker), dirs, marker
}

// leftoverProcesses returns the pids of processes whose environment holds
// marker, waiting up to a second for them to go away.
func leftoverProcesses(marker string) []int {
	var pids []int
	for deadline := time.Now().Add(time.Second); ; {
		pids = pids[:0]
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
			if err == nil && slices.ContainsFunc(bytes.Split(env, []byte{0}), func(v []byte) bool { return string(v) == marker }) {
				pids = append(pids, pid)
			}
		}
		if len(pids) == 0 || time.Now().After(deadline) {
			return pids
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dirNames lists a directory's entries.
func dirNames(t *testing.T, dir string) []string { return testutil.ListDir(t, dir) }

// tempEntry is how pkggen names its temporary directory beside the output
// directory "out": ".out.pkggen-" and 12 hex digits.
var tempEntry = regexp.MustCompile(`^\.out\.pkggen-[0-9a-f]{12}$`)

// runState is what a killed run left in the output's parent.
type runState string

const (
	stateNothing  runState = "nothing"
	stateComplete runState = "complete output"
	stateTemp     runState = "temporary directory left"
)

// checkAftermath checks what a run interrupted at any moment may leave:
// in parent, either nothing, or a complete out/ that is byte for byte the
// output of an uninterrupted run (and dpkg-source -x unpacks it), plus any
// number of recognisable temporary directories; nothing in the isolated
// directories; and no process still running.
func checkAftermath(t *testing.T, parent string, want map[string][]byte, isolated []string, marker string) runState {
	t.Helper()
	state := stateNothing
	for _, name := range dirNames(t, parent) {
		switch {
		case name == "out":
			out := filepath.Join(parent, "out")
			got := dirNames(t, out)
			if !slices.Equal(got, []string{hardDSC, hardTar}) {
				t.Errorf("out/ holds %q, want exactly %s and %s", got, hardDSC, hardTar)
			}
			for name, w := range want {
				b, err := os.ReadFile(filepath.Join(out, name))
				if err == nil && !bytes.Equal(b, w) {
					t.Errorf("out/%s (%d bytes) differs from the uninterrupted run's (%d bytes)", name, len(b), len(w))
				}
			}
			testutil.Run(t, "", "dpkg-source", "-x", filepath.Join(out, hardDSC), filepath.Join(t.TempDir(), "x"))
			if state == stateNothing {
				state = stateComplete
			}
		case tempEntry.MatchString(name):
			state = stateTemp
		default:
			t.Errorf("left %q in the output's parent; want only out/ or .out.pkggen-<12 hex>", name)
		}
	}
	for _, d := range isolated {
		if names := dirNames(t, d); len(names) > 0 {
			t.Errorf("wrote %q into %s, which should stay empty", names, d)
		}
	}
	if pids := leftoverProcesses(marker); len(pids) > 0 {
		t.Errorf("processes %v of the run still running after it was killed", pids)
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return state
}

// killPoint is a moment to send the signal: after a delay, or when a
// directory entry appears in the output's parent.
type killPoint struct {
	name    string
	after   time.Duration
	onEntry *regexp.Regexp // in the output's parent: must happen
	inTmp   bool           // on anything created in TMPDIR, if ever
}

// startGenerate starts mksigned generate without waiting for it.
func startGenerate(t *testing.T, dir string, env []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(mksignedBin, append([]string{"generate"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr
}

// watchEntry returns a channel that is closed when a name matching re is
// created in (or renamed into) dir, watched with inotify. Call it before
// the process starts.
func watchEntry(t *testing.T, dir string, re *regexp.Regexp) <-chan struct{} {
	t.Helper()
	return watchNames(t, dir, re, syscall.IN_CREATE|syscall.IN_MOVED_TO)
}

// watchNames returns a channel that is closed when one of the inotify
// events in mask concerns a name in dir that matches re.
func watchNames(t *testing.T, dir string, re *regexp.Regexp, mask uint32) <-chan struct{} {
	t.Helper()
	names := inotifyNames(t, dir, mask)
	hit := make(chan struct{})
	go func() {
		for name := range names {
			if re.MatchString(name) {
				close(hit)
				return
			}
		}
	}()
	return hit
}

// inotifyNames watches dir with inotify for the events in mask until the
// test ends, and sends the name of each entry they concern, in order
// (up to 4096 not yet received; later ones are dropped).
func inotifyNames(t *testing.T, dir string, mask uint32) <-chan string {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := syscall.InotifyAddWatch(fd, dir, mask); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	t.Cleanup(func() { f.Close() })
	names := make(chan string, 4096)
	go func() {
		defer close(names)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				// struct inotify_event: wd, mask, cookie, len, name[len].
				l := int(binary.NativeEndian.Uint32(buf[off+12:]))
				name := strings.TrimRight(string(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+l]), "\x00")
				off += syscall.SizeofInotifyEvent + l
				select {
				case names <- name:
				default:
				}
			}
		}
	}()
	return names
}

// killFixture is a package that takes a while to read and sign: 128 MiB
// of zeros in xz (most of a second to decode) before 200 modules, all
// listed, and its template.
func killFixture(t *testing.T) (deb, tmpl string) {
	t.Helper()
	module := unsignedModule(t)
	files := []hardFile{{name: "usr/share/hardening/filler", size: -1, body: zeros{}, n: 128 << 20}}
	var listed []string
	for i := range 200 {
		name := fmt.Sprintf("lib/modules/6.1.0-57-amd64/kernel/m%03d/dummy.ko", i)
		m := slices.Clone(module)
		binary.BigEndian.PutUint32(m[len(m)-4:], uint32(i)) // each module its own digest
		files = append(files, hardFile{name: name, size: -1, data: m})
		listed = append(listed, name+":linux-module")
	}
	return hardDeb(t, ".xz", compressed(t, files, "xz -0 -T1")), hardTemplate(t, listed...)
}

// TestKilledGenerate kills generate with SIGKILL at many moments, from
// its start to the rename of the output into place: each time, the
// output directory must be absent or complete, and nothing else may be
// left but recognisable temporary directories beside it. Where the
// moment decides the outcome (at once, once renamed, SIGTERM or SIGINT
// during the write) it must be that one, and both "nothing" and
// "complete output" must occur.
func TestKilledGenerate(t *testing.T) {
	testutil.RequireTool(t, "dpkg-source")
	deb, tmpl := killFixture(t)
	key := testutil.NewKey(t, 2048)
	args := func(out string) []string {
		return []string{"--template", tmpl, "--unsigned", deb, "--key", key.KeyPath, "--cert", key.CertPath, "--output", out}
	}

	// An uninterrupted run gives the bytes to compare with, and the time.
	parent := t.TempDir()
	start := time.Now()
	mustMksigned(t, "", nil, append([]string{"generate"}, args(filepath.Join(parent, "out"))...)...)
	full := time.Since(start)
	want := map[string][]byte{}
	for _, name := range []string{hardDSC, hardTar} {
		b, err := os.ReadFile(filepath.Join(parent, "out", name))
		if err != nil {
			t.Fatal(err)
		}
		want[name] = b
	}
	t.Logf("uninterrupted run: %v", full)

	points := []killPoint{
		{name: "at once"}, {name: "1ms", after: time.Millisecond}, {name: "10ms", after: 10 * time.Millisecond},
		{name: "50ms", after: 50 * time.Millisecond},
	}
	for _, f := range []float64{0.3, 0.6, 0.9} {
		points = append(points, killPoint{name: fmt.Sprintf("%.0f%% of a run", f*100), after: time.Duration(f * float64(full))})
	}
	points = append(points,
		killPoint{name: "temporary directory created", onEntry: tempEntry},
		killPoint{name: "output renamed into place", onEntry: regexp.MustCompile(`^out$`)},
		killPoint{name: "a file created in TMPDIR", inTmp: true})
	seen := map[runState]int{}
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM, syscall.SIGINT} {
		for _, p := range points {
			if sig != syscall.SIGKILL && p.name != "60% of a run" && p.onEntry != tempEntry {
				continue // TERM and INT: mid-run and at the write only
			}
			t.Run(sig.String()+"/"+p.name, func(t *testing.T) {
				parent := t.TempDir()
				cwd := t.TempDir()
				env, isolated, marker := isolatedEnv(t)
				// The xz program, not the Go decoder: a killed run must
				// not leave it running either.
				env = append(env, "MKSIGNED_DECOMPRESS=external")
				var hit <-chan struct{}
				if p.onEntry != nil {
					hit = watchEntry(t, parent, p.onEntry)
				}
				if p.inTmp {
					hit = watchEntry(t, isolated[0], regexp.MustCompile(`.`))
				}
				cmd, stderr := startGenerate(t, cwd, env, args(filepath.Join(parent, "out"))...)
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				var err error
				done := false
				if hit != nil {
					select {
					case <-hit:
					case err = <-exited:
						done = true
						if !p.inTmp {
							t.Errorf("the run ended without %s", p.name)
						}
					}
				} else {
					time.Sleep(p.after)
				}
				status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
				children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
				sent := cmd.Process.Signal(sig)
				if !done {
					err = <-exited
				}
				noRace(t, stderr.String())
				state := checkAftermath(t, parent, want, append(isolated, cwd), marker)
				seen[state]++
				// Where the outcome does not depend on timing, it is the
				// one the kill point implies: nothing before any work,
				// the output once renamed into place, and a write under
				// way finished when the signal can be handled.
				var wantState runState
				switch {
				case p.name == "at once":
					wantState = stateNothing
				case p.onEntry != nil && p.onEntry != tempEntry:
					wantState = stateComplete
				case p.onEntry == tempEntry && sig != syscall.SIGKILL:
					wantState = stateComplete
				}
				if wantState != "" && state != wantState {
					t.Errorf("%s at %s left %s, want %s; stderr: %s", sig, p.name, state, wantState, stderr)
				}
				var ee *exec.ExitError
				if err != nil && !errors.As(err, &ee) {
					t.Fatal(err)
				}
				if sent == nil && cmd.ProcessState.Success() && sig != syscall.SIGKILL {
					t.Logf("exit 0 after %s was sent; %s", sig, regexp.MustCompile(`(?m)^Sig(Ign|Cgt):.*$`).FindAllString(string(status), -1))
				}
				// SIGTERM and SIGINT are handled: a write under way
				// finishes (exit 0, complete output), otherwise the run
				// stops with 130 and leaves nothing, not even a
				// temporary directory.
				if sig != syscall.SIGKILL && sent == nil {
					code := cmd.ProcessState.ExitCode()
					if state == stateTemp || (code != 0 && code != 130) || (code == 130 && state != stateNothing) {
						t.Errorf("%s: exit %d, left %s; want exit 0 with complete output or 130 with nothing; stderr: %s", sig, code, state, stderr)
					}
				}
				if cmd.ProcessState.Success() && state != stateComplete {
					t.Errorf("exit 0 but %s; stderr: %s", state, stderr)
				}
				if !cmd.ProcessState.Success() && state == stateComplete && sent == nil {
					t.Logf("output complete though %s came first (%v)", sig, cmd.ProcessState)
				}
				t.Logf("%s at %s (sent: %v; children %q): %v, left %s", sig, p.name, sent, strings.TrimSpace(string(children)), cmd.ProcessState, state)
			})
		}
	}
	t.Logf("outcomes: %v", seen)
	for _, st := range []runState{stateNothing, stateComplete} {
		if seen[st] == 0 {
			t.Errorf("no kill left %s (outcomes: %v): the kill points do not reach both ends of a run", st, seen)
		}
	}
}

// runLimited runs mksigned with a deadline and returns its result, how
// long it took and its peak resident set size (of it and the processes it
// waited for) in bytes. It runs the binary built without -race (plainBin).
func runLimited(t *testing.T, limit time.Duration, env []string, args ...string) (result, time.Duration, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, plainBin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("mksigned %s: still running after %v (killed)", strings.Join(args, " "), limit)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running mksigned: %v", err)
	}
	rss := int64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) * 1024 // Maxrss is int32 on 386
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}, took, rss
}

// maxRSS bounds the memory of any run below: the listed files are a few
// kilobytes, whatever the package claims or expands to.
const maxRSS = 200 << 20

// TestBombsAndAbsurdSizes runs generate on packages whose sizes lie or
// whose data expands enormously: each must end within its time limit,
// with the expected outcome, and without using much memory.
func TestBombsAndAbsurdSizes(t *testing.T) {
	module := unsignedModule(t)
	efiImage := unsignedEFI(t)
	key := testutil.NewKey(t, 2048)
	moduleEntry := hardFile{name: hardModule, size: -1, data: module}
	lieAr := func(member string) func(t *testing.T) string {
		return func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), hardPkg+"_"+hardVersion+"_amd64.deb")
			ms := []arMember{{"debian-binary", []byte("2.0\n"), -1}, controlMember(t),
				{"data.tar.xz", compressed(t, []hardFile{moduleEntry}, "xz"), -1}}
			for i := range ms {
				if ms[i].name == member {
					ms[i].size = 9999999999
				}
			}
			writeDeb(t, p, ms...)
			return p
		}
	}
	// withEFI returns a package holding the EFI image after edit changed it.
	withEFI := func(edit func(b []byte) []byte) func(t *testing.T) string {
		return func(t *testing.T) string {
			b := edit(slices.Clone(efiImage))
			return hardDeb(t, ".xz", compressed(t, []hardFile{{name: hardEFI, size: -1, data: b}}, "xz"))
		}
	}
	// bomb returns n zero bytes in an unlisted file before the listed
	// module, compressed with program; each is built once.
	bombs := map[string][]byte{}
	bombData := func(t *testing.T, program string, n int64) []byte {
		k := fmt.Sprint(program, n)
		if bombs[k] == nil {
			bombs[k] = compressed(t, []hardFile{{name: "usr/share/hardening/zeros", size: -1, body: zeros{}, n: n}, moduleEntry}, program)
		}
		return bombs[k]
	}
	bomb := func(program, suffix string, n int64) func(t *testing.T) string {
		return func(t *testing.T) string { return hardDeb(t, suffix, bombData(t, program, n)) }
	}
	cases := []struct {
		name   string
		deb    func(t *testing.T) string
		listed string // path:sig_type
		env    []string
		limit  time.Duration
		wantOK bool
		want   []string // substrings of stderr (of stdout when wantOK)
		// prefix is how stderr goes on after "mksigned: <package file>: ".
		prefix  string
		dryRun  bool
		maxTime time.Duration
	}{
		{name: "ar member debian-binary claims 9999999999 bytes", deb: lieAr("debian-binary"), listed: hardModule + ":linux-module",
			prefix: "debian-binary: offset 0x8: ", want: []string{"9999999999"}},
		{name: "ar member control.tar.gz claims 9999999999 bytes", deb: lieAr("control.tar.gz"), listed: hardModule + ":linux-module",
			prefix: "control.tar.gz: offset 0x48: ", want: []string{"9999999999"}},
		{name: "ar member data.tar.xz claims 9999999999 bytes", deb: lieAr("data.tar.xz"), listed: hardModule + ":linux-module",
			prefix: "data.tar.xz: offset 0x", want: []string{"9999999999"}},
		{name: "listed file claims 1 TiB in a short data.tar", listed: hardModule + ":linux-module",
			deb: func(t *testing.T) string {
				return hardDeb(t, "", compressed(t, []hardFile{{name: hardModule, size: 1 << 40, data: module, short: true}}, ""))
			}, prefix: "data.tar: " + hardModule + ": ", want: []string{"1099511627776"}},
		{name: "listed file claims 1 TiB in a short data.tar.xz", listed: hardModule + ":linux-module",
			deb: func(t *testing.T) string {
				return hardDeb(t, ".xz", compressed(t, []hardFile{{name: hardModule, size: 1 << 40, data: module, short: true}}, "xz"))
			}, prefix: "data.tar.xz: " + hardModule + ": ", want: []string{"1099511627776"}},
		{name: "listed file claims 120 MiB (under the limit) in a short data.tar.xz", listed: hardModule + ":linux-module",
			deb: func(t *testing.T) string {
				return hardDeb(t, ".xz", compressed(t, []hardFile{{name: hardModule, size: 120 << 20, data: module, short: true}}, "xz"))
			}, prefix: "data.tar.xz: " + hardModule + ": ", want: []string{"truncated"}},
		{name: "unlisted file claims 1 TiB in a short data.tar.zst", listed: hardModule + ":linux-module",
			deb: func(t *testing.T) string {
				return hardDeb(t, ".zst", compressed(t, []hardFile{{name: "usr/share/big", size: 1 << 40, data: module, short: true}}, "zstd"))
			}, prefix: "data.tar.zst: ", want: []string{"truncated"}},
		{name: "xz: 256 MiB of zeros before the listed file, pure-Go decoder", deb: bomb("xz -0 -T1", ".xz", 256<<20),
			listed: hardModule + ":linux-module", env: []string{"MKSIGNED_DECOMPRESS=go"}, wantOK: true, dryRun: true,
			want: []string{"sign linux-module", hardModule}, limit: 20 * time.Second},
		{name: "xz: 256 MiB of zeros before the listed file, xz program", deb: bomb("xz -0 -T1", ".xz", 256<<20),
			listed: hardModule + ":linux-module", env: []string{"MKSIGNED_DECOMPRESS=external"}, wantOK: true, dryRun: true,
			want: []string{"sign linux-module", hardModule}, limit: 20 * time.Second},
		{name: "zstd: 512 MiB of zeros before the listed file", deb: bomb("zstd -q -1", ".zst", 512<<20),
			listed: hardModule + ":linux-module", wantOK: true, dryRun: true,
			want: []string{"sign linux-module", hardModule}, limit: 20 * time.Second},
		{name: "gzip: 256 MiB of zeros before the listed file", deb: bomb("gzip", ".gz", 256<<20),
			listed: hardModule + ":linux-module", wantOK: true, dryRun: true,
			want: []string{"sign linux-module", hardModule}, limit: 20 * time.Second},
		{name: "xz: LZMA2 dictionary of 3 GiB, pure-Go decoder", listed: hardModule + ":linux-module",
			deb: func(t *testing.T) string {
				return hardDeb(t, ".xz", hugeDictionary(t, bombData(t, "xz -0 -T1", 256<<20)))
			}, env: []string{"MKSIGNED_DECOMPRESS=go"}, prefix: "data.tar.xz: xz: ", want: []string{"dictionary"}, limit: 20 * time.Second},
		{name: "xz: LZMA2 dictionary of 3 GiB, xz program", listed: hardModule + ":linux-module",
			deb: func(t *testing.T) string {
				return hardDeb(t, ".xz", hugeDictionary(t, bombData(t, "xz -0 -T1", 256<<20)))
			}, env: []string{"MKSIGNED_DECOMPRESS=external"}, prefix: "data.tar.xz: xz: ", limit: 20 * time.Second},
		{name: "PE section points past the end", listed: hardEFI + ":efi",
			deb: withEFI(func(b []byte) []byte {
				binary.LittleEndian.PutUint32(b[peSection(b, 0)+20:], 0x7fff0000)
				return b
			}), prefix: "data.tar.xz: " + hardEFI + ": ", want: []string{"offset 0x"}},
		{name: "PE section size runs past the end", listed: hardEFI + ":efi",
			deb: withEFI(func(b []byte) []byte {
				binary.LittleEndian.PutUint32(b[peSection(b, 1)+16:], 0xfffffe00)
				return b
			}), prefix: "data.tar.xz: " + hardEFI + ": ", want: []string{"offset 0x"}},
		{name: "PE NumberOfSections 65535", listed: hardEFI + ":efi",
			deb: withEFI(func(b []byte) []byte {
				binary.LittleEndian.PutUint16(b[peNumberOfSections(b):], 65535)
				return b
			}), prefix: "data.tar.xz: " + hardEFI + ": ", want: []string{"65535"}},
		{name: "PE certificate table claims 4 GiB", listed: hardEFI + ":efi",
			deb: withEFI(func(b []byte) []byte {
				dir := peCertDir(b)
				binary.LittleEndian.PutUint32(b[dir:], uint32(len(b)))
				binary.LittleEndian.PutUint32(b[dir+4:], 0xfffffff8)
				return b
			}), prefix: "data.tar.xz: " + hardEFI + ": ", want: []string{"offset 0x"}},
		{name: "module sig_len larger than the file", listed: hardModule + ":linux-module",
			deb: func(t *testing.T) string {
				m := slices.Concat(module, []byte{0, 0, 2, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xf0}, []byte("~Module signature appended~\n"))
				return hardDeb(t, ".xz", compressed(t, []hardFile{{name: hardModule, size: -1, data: m}}, "xz"))
			}, prefix: "data.tar.xz: " + hardModule + ": ", want: []string{"signature"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			deb := c.deb(t)
			parent := t.TempDir()
			args := []string{"generate", "--template", hardTemplate(t, c.listed), "--unsigned", deb}
			if c.dryRun {
				args = append(args, "--dry-run")
			} else {
				args = append(args, "--key", key.KeyPath, "--cert", key.CertPath, "--output", filepath.Join(parent, "out"))
			}
			limit := c.limit
			if limit == 0 {
				limit = 5 * time.Second
			}
			r, took, rss := runLimited(t, limit, c.env, args...)
			t.Logf("exit %d in %v, peak RSS %d MiB; stderr: %s", r.code, took.Round(time.Millisecond), rss>>20, strings.TrimSpace(r.stderr))
			text := r.stderr
			if c.wantOK {
				text = r.stdout
				if r.code != 0 {
					t.Errorf("exit %d, want 0; stderr: %s", r.code, r.stderr)
				}
			} else {
				if r.code != 1 {
					t.Errorf("exit %d, want 1; stderr: %s", r.code, r.stderr)
				}
				// The README's format: mksigned: <file>: <member>: <path>: offset …
				if p := "mksigned: " + filepath.Base(deb) + ": " + c.prefix; !strings.HasPrefix(r.stderr, p) {
					t.Errorf("stderr %q does not start with %q", r.stderr, p)
				}
				if n := strings.Count(r.stderr, filepath.Base(deb)); n != 1 {
					t.Errorf("stderr %q names %s %d times, want once", r.stderr, filepath.Base(deb), n)
				}
			}
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("output %q does not mention %q", text, w)
				}
			}
			if rss > maxRSS {
				t.Errorf("peak RSS %d MiB, want at most %d MiB", rss>>20, maxRSS>>20)
			}
			if names := dirNames(t, parent); len(names) > 0 {
				t.Errorf("left %q in the output's parent", names)
			}
		})
	}
}

// TestDetachAbsurdSigLen: detach of a module whose trailer claims a
// signature longer than the file fails at once, naming the field.
func TestDetachAbsurdSigLen(t *testing.T) {
	dir := t.TempDir()
	m := slices.Concat(unsignedModule(t), []byte{0, 0, 2, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xf0}, []byte("~Module signature appended~\n"))
	writeFile(t, filepath.Join(dir, "m.ko"), m, 0o644)
	r, _, rss := runLimited(t, 5*time.Second, nil, "detach", "--type", "linux-module", "--output", filepath.Join(dir, "m.p7s"), filepath.Join(dir, "m.ko"))
	if r.code != 1 || !strings.Contains(r.stderr, "sig_len 4294967280") {
		t.Errorf("exit %d, stderr %q; want exit 1 naming sig_len 4294967280", r.code, r.stderr)
	}
	if rss > maxRSS {
		t.Errorf("peak RSS %d MiB, want at most %d MiB", rss>>20, maxRSS>>20)
	}
	notExist(t, filepath.Join(dir, "m.p7s"))
}

// peCertDir returns the offset of the certificate table's data directory
// entry (DataDirectory[4]) of a PE32+ image.
func peCertDir(b []byte) int {
	opt := int(binary.LittleEndian.Uint32(b[0x3c:])) + 4 + 20
	if binary.LittleEndian.Uint16(b[opt:]) == 0x20b {
		return opt + 112 + 4*8
	}
	return opt + 96 + 4*8
}

// hugeDictionary rewrites the LZMA2 dictionary size of every block of the
// single-stream xz file b to 3 GiB and fixes the block header CRC32: the
// data still decodes, but a decoder that believes the header may use as
// much memory as the data expands to (xz's format: the block header is
// (b[0]+1)*4 bytes and ends with its CRC32; LZMA2's filter flags are
// 0x21, 0x01, dictionary byte).
func hugeDictionary(t *testing.T, b []byte) []byte {
	t.Helper()
	b = slices.Clone(b)
	const streamHeader = 12
	hdrSize := (int(b[streamHeader]) + 1) * 4
	hdr := b[streamHeader : streamHeader+hdrSize]
	i := bytes.Index(hdr[2:], []byte{0x21, 0x01})
	if i < 0 {
		t.Fatal("no LZMA2 filter flags in the first block header")
	}
	hdr[2+i+2] = 39 // 3 << 30
	binary.LittleEndian.PutUint32(hdr[hdrSize-4:], crc32.ChecksumIEEE(hdr[:hdrSize-4]))
	return b
}
