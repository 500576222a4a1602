package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
	"github.com/mksigned/mksigned/sign/pkcs7"
)

// checksumLines matches the .dsc lines that depend on the compressed
// tarball's bytes (dpkg-source uses xz -6 -T0, we use a pure-Go xz).
var checksumLines = regexp.MustCompile(`(?m)^ [0-9a-f]{32,64} \d+ .*\n`)

// TestMatchesDpkgSource does what Debian's signing service does by hand,
// dpkg-deb -x of the template, a copy of its source-template keeping
// mtimes, the signatures written into it at the epoch (what generate
// documents: signatures, new directories and the directories that gain
// an entry get the epoch as mtime), dpkg-source -b, and requires generate
// to give the same uncompressed tar and the same .dsc but for the
// checksum lines: with the changelog's date, and with a SOURCE_DATE_EPOCH
// before the template's files, between them and the clock, and after the
// clock. The epoch comes from the fixtures (dpkg-parsechangelog) or
// SOURCE_DATE_EPOCH, never from the clock.
func TestMatchesDpkgSource(t *testing.T) {
	dpkgSource := testutil.RequireTool(t, "dpkg-source")
	parseChangelog := testutil.RequireTool(t, "dpkg-parsechangelog")
	testutil.RequireTool(t, "xz")
	key, cert := newKey(t, "2048")
	for _, c := range debianCases {
		for _, sde := range []string{"", "1600000000", "1780000000", "1900000000"} {
			t.Run(c.name+"/SOURCE_DATE_EPOCH="+sde, func(t *testing.T) {
				var env []string
				if sde != "" {
					env = []string{"SOURCE_DATE_EPOCH=" + sde}
				}
				out := filepath.Join(t.TempDir(), "out")
				mustMksigned(t, "", env, "generate", "--template", testutil.DebianFixture(t, c.template),
					"--unsigned", testutil.DebianFixture(t, c.unsigned), "--key", key, "--cert", cert, "--output", out)
				ourDsc := onlyFile(t, out, ".dsc")
				x := filepath.Join(t.TempDir(), "x")
				testutil.Run(t, "", dpkgSource, "-x", ourDsc, x)

				source := strings.TrimSuffix(filepath.Base(ourDsc), ".dsc")
				source = source[:strings.Index(source, "_")]
				work := t.TempDir()
				tmpl := extract(t, testutil.DebianFixture(t, c.template))
				testutil.Run(t, "", "cp", "-a", filepath.Join(tmpl, c.codeDir, "source-template"), filepath.Join(work, source))
				testutil.Run(t, "", "cp", "-r", filepath.Join(x, "debian", "signatures"), filepath.Join(work, source, "debian"))
				// The signatures were written at the epoch, not now: else
				// dpkg-source keeps their mtime whenever it is before
				// SOURCE_DATE_EPOCH, and the test depended on the date.
				epoch := sde
				if epoch == "" {
					epoch = strings.TrimSpace(string(testutil.Run(t, "", parseChangelog, "-l",
						filepath.Join(work, source, "debian", "changelog"), "-S", "Timestamp")))
				}
				sec, err := strconv.ParseInt(epoch, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				touchTree(t, filepath.Join(work, source, "debian", "signatures"), time.Unix(sec, 0))
				if err := os.Chtimes(filepath.Join(work, source, "debian"), time.Unix(sec, 0), time.Unix(sec, 0)); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(dpkgSource, "-b", source)
				cmd.Dir = work
				cmd.Env = append(os.Environ(), env...)
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("dpkg-source -b: %v\n%s", err, b)
				}
				ourTar := xzcat(t, onlyFile(t, out, ".tar.xz"))
				theirTar := xzcat(t, onlyFile(t, work, ".tar.xz"))
				if !bytes.Equal(ourTar, theirTar) {
					t.Errorf("uncompressed tar differs from dpkg-source -b's (%d vs %d bytes)\nours:\n%s\ntheirs:\n%s",
						len(ourTar), len(theirTar), tarList(t, onlyFile(t, out, ".tar.xz")), tarList(t, onlyFile(t, work, ".tar.xz")))
				}
				ours, _ := os.ReadFile(ourDsc)
				theirs, _ := os.ReadFile(onlyFile(t, work, ".dsc"))
				if a, b := checksumLines.ReplaceAllString(string(ours), ""), checksumLines.ReplaceAllString(string(theirs), ""); a != b {
					t.Errorf(".dsc differs from dpkg-source's beyond checksums:\nours:\n%s\ntheirs:\n%s", a, b)
				}
			})
		}
	}
}

// touchTree sets the mtime of root and everything under it to when.
func touchTree(t *testing.T, root string, when time.Time) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, when, when)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func tarList(t *testing.T, path string) string {
	t.Helper()
	b, _ := exec.Command("tar", "--full-time", "-tvf", path).CombinedOutput()
	return string(b)
}

func xzcat(t *testing.T, path string) []byte {
	t.Helper()
	b, err := exec.Command("xz", "-dc", path).Output()
	if err != nil {
		t.Fatalf("xz -dc %s: %v", path, err)
	}
	return b
}

// TestSigningTime checks the EFI signature's signingTime: the changelog's
// top date by default, SOURCE_DATE_EPOCH when set; never the clock.
func TestSigningTime(t *testing.T) {
	key, cert := newKey(t, "2048")
	for _, c := range []struct {
		sde  string
		want int64
	}{
		{"", 1775232695}, // Fri, 03 Apr 2026 17:11:35 +0100, shim-helpers' changelog
		{"1600000000", 1600000000},
	} {
		var env []string
		if c.sde != "" {
			env = []string{"SOURCE_DATE_EPOCH=" + c.sde}
		}
		out := filepath.Join(t.TempDir(), "out")
		mustMksigned(t, "", env, "generate", "--template", testutil.DebianFixture(t, shimTemplate),
			"--unsigned", testutil.DebianFixture(t, shimUnsigned), "--key", key, "--cert", cert, "--output", out)
		times := signingTimes(t, onlyFile(t, out, ".dsc"))
		const fbx64 = "shim-unsigned/usr/lib/shim/fbx64.efi.sig"
		if got, ok := times[fbx64]; !ok || got != c.want {
			t.Errorf("SOURCE_DATE_EPOCH=%q: %s has signingTime %d (%v), want %d", c.sde, fbx64, got, ok, c.want)
		}
	}
}

// signingTimes unpacks a source package with dpkg-source -x and returns
// the signingTime of each signature under debian/signatures/ that has
// one (EFI signatures do, module signatures do not), in Unix seconds, by
// its path there.
func signingTimes(t *testing.T, dsc string) map[string]int64 {
	t.Helper()
	x := filepath.Join(t.TempDir(), "x")
	testutil.Run(t, "", testutil.RequireTool(t, "dpkg-source"), "-x", dsc, x)
	sigs := filepath.Join(x, "debian", "signatures")
	times := map[string]int64{}
	err := filepath.WalkDir(sigs, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		der, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sd, err := pkcs7.Parse(der)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if st := sd.Signers[0].SigningTime; st != nil {
			rel, _ := filepath.Rel(sigs, p)
			times[filepath.ToSlash(rel)] = st.Unix()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return times
}
