package tests

// Bounded time and memory (issue 9, section 4): inputs that are small on
// disk but large in memory, or sizes past what a real template or package
// reaches, are refused early, with the reason, by the built binary, in
// little time and memory; inputs that took quadratic time are read in
// linear time. Each case names what it took before.

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
)

// limitRSS bounds the peak RSS of a refused run: mksigned itself takes
// about 10 MB; each case took hundreds of MB before its limit.
const limitRSS = 64 << 20

// refusedQuickly runs mksigned with args and checks that it exits 1
// within 2 s and limitRSS, with every one of want in its stderr.
func refusedQuickly(t *testing.T, want []string, args ...string) {
	t.Helper()
	runQuickly(t, 1, want, args...)
}

// runQuickly runs mksigned with args and checks that it exits with code
// within 2 s and limitRSS, with every one of want in its stderr (its
// stdout for code 0).
func runQuickly(t *testing.T, code int, want []string, args ...string) {
	t.Helper()
	r, took, rss := runLimited(t, 30*time.Second, nil, args...)
	t.Logf("exit %d in %v, peak RSS %d MiB; stderr: %s", r.code, took.Round(time.Millisecond), rss>>20, strings.TrimSpace(r.stderr))
	if r.code != code {
		t.Errorf("exit %d, want %d; stderr: %s", r.code, code, r.stderr)
	}
	text := r.stderr
	if code == 0 {
		text = r.stdout
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("output %q does not mention %q", text, w)
		}
	}
	if took > 2*time.Second {
		t.Errorf("took %v, want under 2 s", took)
	}
	// A child started by os/exec is counted from this process's peak
	// (the kernel folds the memory it was forked sharing into its peak at
	// exec): past the bound, the figure says nothing of mksigned.
	if self := selfPeakRSS(t); self > limitRSS {
		t.Logf("not checking the peak RSS: this test process's own, %d MiB, is past the bound", self>>20)
	} else if rss > limitRSS {
		t.Errorf("peak RSS %d MiB, want at most %d MiB", rss>>20, limitRSS>>20)
	}
}

// selfPeakRSS is this process's peak RSS (VmHWM).
func selfPeakRSS(t *testing.T) int64 {
	t.Helper()
	status := readFileT(t, "/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("/proc/self/status: %q: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Fatal("/proc/self/status has no VmHWM")
	return 0
}

// TestListedEFIMemory: a listed EFI file is refused from its tar header
// when it is larger than any real one, and from its first bytes when
// they are no PE header, before it is held, with --dry-run and without.
// A 77 KB package expanding to a 500 MiB listed file took 938 MB.
func TestListedEFIMemory(t *testing.T) {
	key, cert := newKey(t, "2048")
	tmpl := hardTemplate(t, hardEFI+":efi")
	for _, c := range []struct {
		name string
		size int64
		want []string
	}{
		{"500 MiB of zeros", 500 << 20, []string{hardEFI, "is 524288000 bytes, more than the 134217728 a file to sign may have"}},
		{"120 MiB of zeros", 120 << 20, []string{hardEFI, "sig_type efi: offset 0x0: not a PE/COFF image: no MZ signature"}},
	} {
		deb := hardDeb(t, ".xz", compressed(t, []hardFile{{name: hardEFI, size: -1, body: zeros{}, n: c.size}}, "xz -0 -T1"))
		t.Run(c.name+", dry run", func(t *testing.T) {
			refusedQuickly(t, c.want, "generate", "--dry-run", "--template", tmpl, "--unsigned", deb)
		})
		t.Run(c.name, func(t *testing.T) {
			refusedQuickly(t, c.want, "generate", "--template", tmpl, "--unsigned", deb,
				"--key", key, "--cert", cert, "--output", filepath.Join(t.TempDir(), "out"))
		})
	}
}

// TestTemplateMemory: a template's files.json, debian/control and files
// are refused from their sizes, before they are read, past limits far
// above Debian's largest template (linux-image-6.12-*: 4.5 MB unpacked,
// files.json 900 bytes, debian/control 27 KB). Each case took 0.4-1 GB
// before, within the old limits.
func TestTemplateMemory(t *testing.T) {
	deb := hardDeb(t, ".xz", compressed(t, []hardFile{{name: hardModule, size: -1, data: unsignedModule(t)}}, "xz"))
	entry := `{"sig_type": "linux-module", "file": "` + hardModule + `"}, `
	for _, c := range []struct {
		name string
		edit func(t *testing.T, dir string)
		want []string
	}{
		{"58 MB files.json", func(t *testing.T, dir string) {
			writeStream(t, filepath.Join(dir, "files.json"), func(w *bufio.Writer) {
				w.WriteString(`{"packages": {"` + hardPkg + `": {"trusted_certs": [], "files": [`)
				for range (58 << 20) / len(entry) {
					w.WriteString(entry)
				}
				w.WriteString(entry[:len(entry)-2] + `]}}}`)
			})
		}, []string{"files.json: is 60817", "more than the 4194304 a template's files.json may have"}},
		{"28 MB debian/control", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "source-template/debian/control")
			head := readFileT(t, p)
			writeStream(t, p, func(w *bufio.Writer) {
				w.Write(head)
				for i := range 1200000 {
					fmt.Fprintf(w, "X-Field-%d: value\n", i)
				}
			})
		}, []string{"source-template/debian/control: is 2", "more than the 1048576 a template's control may have"}},
		{"240 MiB of files", func(t *testing.T, dir string) {
			for i := range 4 {
				p := filepath.Join(dir, fmt.Sprintf("source-template/debian/big%d", i))
				writeFile(t, p, nil, 0o644)
				if err := os.Truncate(p, 60<<20); err != nil {
					t.Fatal(err)
				}
			}
		}, []string{"source-template/debian/big", "is 62914560 bytes, more than the 16777216"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tmpl := hardTemplate(t, hardModule+":linux-module")
			c.edit(t, tmpl)
			refusedQuickly(t, c.want, "generate", "--dry-run", "--template", tmpl, "--unsigned", deb)
		})
	}
}

// writeStream writes the file p with write, through a buffer: the tests
// here keep their own memory small, since a child's peak RSS counts this
// process's peak (runLimited).
func writeStream(t *testing.T, p string, write func(w *bufio.Writer)) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	write(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readFileT(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifyReadsBounded: verify checks that the .dsc and the tarball are
// regular files, the .dsc of at most 64 KiB and the tarball of the size
// the .dsc states, before it reads them; it read both whole first, and a
// tarball linked to /dev/zero grew without bound.
func TestVerifyReadsBounded(t *testing.T) {
	key, cert := newKey(t, "2048")
	out := filepath.Join(t.TempDir(), "out")
	mustMksigned(t, "", nil, "generate", "--template", testutil.DebianFixture(t, fwupdTemplate), "--unsigned", testutil.DebianFixture(t, fwupdUnsigned),
		"--key", key, "--cert", cert, "--output", out)
	dsc, tarxz := onlyFile(t, out, ".dsc"), onlyFile(t, out, ".tar.xz")
	grow := func(p string) { // sparse: reading it costs the time
		if err := os.Truncate(p, 1<<30); err != nil {
			t.Fatal(err)
		}
	}
	toZero := func(p string) {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		symlink(t, "/dev/zero", p)
	}
	for _, c := range []struct {
		name string
		edit func(dsc, tarxz string)
		want []string
	}{
		{"tarball a link to /dev/zero", func(_, tarxz string) { toZero(tarxz) },
			[]string{filepath.Base(tarxz) + ": not a regular file: a character device"}},
		{"tarball of 1 GiB", func(_, tarxz string) { grow(tarxz) },
			[]string{filepath.Base(tarxz) + ": size 1073741824, but " + filepath.Base(dsc) + " says "}},
		{".dsc a link to /dev/zero", func(dsc, _ string) { toZero(dsc) },
			[]string{filepath.Base(dsc) + ": not a regular file: a character device"}},
		{".dsc of 1 GiB", func(dsc, _ string) { grow(dsc) },
			[]string{filepath.Base(dsc) + ": is 1073741824 bytes, more than the 65536 a .dsc may have"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			d, x := filepath.Join(dir, filepath.Base(dsc)), filepath.Join(dir, filepath.Base(tarxz))
			writeFile(t, d, readFileT(t, dsc), 0o644)
			writeFile(t, x, readFileT(t, tarxz), 0o644)
			c.edit(d, x)
			refusedQuickly(t, c.want, "verify", "--dsc", d, "--unsigned", testutil.DebianFixture(t, fwupdUnsigned), "--cert", cert)
		})
	}
}

// TestAttachDetachReadBounded: attach and detach check the type and size
// of what they read before reading it: a signature is at most 1 MiB, a
// file to sign at most 128 MiB (a signed one that plus 1 MiB). A 1 GiB
// sparse .sig took 2.1 GB.
func TestAttachDetachReadBounded(t *testing.T) {
	dir := t.TempDir()
	efiPath, sigPath, big := filepath.Join(dir, "x.efi"), filepath.Join(dir, "x.sig"), filepath.Join(dir, "big")
	writeFile(t, efiPath, unsignedEFI(t), 0o644)
	writeFile(t, sigPath, []byte{0x30, 0}, 0o644)
	writeFile(t, big, nil, 0o644)
	if err := os.Truncate(big, 1<<30); err != nil { // sparse
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"attach: 1 GiB signature", []string{"attach", "--type", "efi", "--signature", big, "--output", out, efiPath},
			"big: is 1073741824 bytes, more than the 1048576 a detached signature may have"},
		{"attach: signature /dev/zero", []string{"attach", "--type", "linux-module", "--signature", "/dev/zero", "--output", out, efiPath},
			"/dev/zero: not a regular file: a character device"},
		{"attach: 1 GiB file", []string{"attach", "--type", "efi", "--signature", sigPath, "--output", out, big},
			"big: is 1073741824 bytes, more than the 134217728 a file to sign may have"},
		{"detach: 1 GiB file", []string{"detach", "--type", "efi", "--output", out, big},
			"big: is 1073741824 bytes, more than the 135266304 a signed file may have"},
		{"detach: /dev/zero", []string{"detach", "--type", "linux-module", "--output", out, "/dev/zero"},
			"/dev/zero: not a regular file: a character device"},
	} {
		t.Run(c.name, func(t *testing.T) {
			refusedQuickly(t, []string{c.want}, c.args...)
			notExist(t, out)
		})
	}
}

// TestQuadraticInputs: inputs that took tens of seconds, each in a part of
// the template or the unsigned package whose parser appended line after
// line to a string or compared every relation with every other, are read
// (or refused by a limit) in well under the 2 s allowed.
func TestQuadraticInputs(t *testing.T) {
	module := unsignedModule(t)
	moduleDeb := hardDeb(t, ".xz", compressed(t, []hardFile{{name: hardModule, size: -1, data: module}}, "xz"))
	edit := func(dir, name, old, new string) {
		p := filepath.Join(dir, "source-template/debian", name)
		b := readFileT(t, p)
		if !strings.Contains(string(b), old) {
			t.Fatalf("%s has no %q", p, old)
		}
		writeFile(t, p, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
	}
	for _, c := range []struct {
		name string
		edit func(dir string) (deb string)
		code int
		want []string
	}{
		{"a changelog top entry of 160,000 lines (55 s)", func(dir string) string {
			edit(dir, "changelog", "\n\n -- ", "\n"+strings.Repeat("  * more\n", 160000)+"\n -- ")
			return moduleDeb
		}, 0, []string{"sign linux-module"}},
		{"a debian/control source field of 160,000 lines (55 s)", func(dir string) string {
			edit(dir, "control", "Standards-Version:", "X-Long: a\n"+strings.Repeat(" b\n", 160000)+"Standards-Version:")
			return moduleDeb
		}, 0, []string{"sign linux-module"}},
		{"a Build-Depends of 40,000 relations (40 s)", func(dir string) string {
			edit(dir, "control", "Build-Depends: ", "Build-Depends: "+strings.Repeat("debhelper (>= 9.0.0), ", 40000))
			return moduleDeb
		}, 1, []string{"source-template/debian/control: Build-Depends: is 88", "more than the 16384 a signing template's may have"}},
		{"an unsigned package's control file of 1 MiB (44 s)", func(string) string {
			control := "Package: " + hardPkg + "\nVersion: " + hardVersion + "\nArchitecture: amd64\nDescription: x\n"
			control += strings.Repeat(" y\n", (1<<20-len(control))/3)
			p := filepath.Join(t.TempDir(), hardPkg+"_"+hardVersion+"_amd64.deb")
			writeDeb(t, p, arMember{"debian-binary", []byte("2.0\n"), -1}, controlMemberOf(t, control),
				arMember{"data.tar.xz", compressed(t, []hardFile{{name: hardModule, size: -1, data: module}}, "xz"), -1})
			return p
		}, 0, []string{"sign linux-module"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tmpl := hardTemplate(t, hardModule+":linux-module")
			deb := c.edit(tmpl)
			runQuickly(t, c.code, c.want, "generate", "--dry-run", "--template", tmpl, "--unsigned", deb)
		})
	}
}
