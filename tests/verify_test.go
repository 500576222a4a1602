package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// TestVerifyChecksTarball: verify refuses a tarball whose sha256 or size
// is not what the .dsc's Checksums-Sha256 says, even when the tarball
// itself is a valid source package with valid signatures.
func TestVerifyChecksTarball(t *testing.T) {
	key, cert := newKey(t, "2048")
	generate := func(env []string) string {
		out := filepath.Join(t.TempDir(), "out")
		mustMksigned(t, "", env, "generate", "--template", testutil.DebianFixture(t, shimTemplate),
			"--unsigned", testutil.DebianFixture(t, shimUnsigned), "--key", key, "--cert", cert, "--output", out)
		return out
	}
	orig := generate(nil)
	other := generate([]string{"SOURCE_DATE_EPOCH=1700000000"}) // same files, other signatures and mtimes
	dscName := filepath.Base(onlyFile(t, orig, ".dsc"))
	tarName := filepath.Base(onlyFile(t, orig, ".tar.xz"))
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// sha256Line matches the tarball's line of Checksums-Sha256 (the
	// only 64-digit hash in the .dsc): hash, size.
	sha256Line := regexp.MustCompile(`(?m)^ ([0-9a-f]{64}) (\d+) ` + regexp.QuoteMeta(tarName) + `$`)
	editDsc := func(edit func(hash, size string) (string, string)) func(dsc, tarxz []byte) ([]byte, []byte) {
		return func(dsc, tarxz []byte) ([]byte, []byte) {
			m := sha256Line.FindSubmatch(dsc)
			if m == nil {
				t.Fatalf("no Checksums-Sha256 line for %s in:\n%s", tarName, dsc)
			}
			h, s := edit(string(m[1]), string(m[2]))
			return sha256Line.ReplaceAll(dsc, []byte(" "+h+" "+s+" "+tarName)), tarxz
		}
	}
	for _, c := range []struct {
		name string
		edit func(dsc, tarxz []byte) ([]byte, []byte)
		ok   bool
	}{
		{"untouched", func(dsc, tarxz []byte) ([]byte, []byte) { return dsc, tarxz }, true},
		{"the .dsc gives another sha256", editDsc(func(h, s string) (string, string) {
			return strings.Repeat("0", 64), s
		}), false},
		{"the .dsc gives another size", editDsc(func(h, s string) (string, string) {
			return h, s + "0"
		}), false},
		{"another valid tarball of the same name", func(dsc, _ []byte) ([]byte, []byte) {
			return dsc, read(filepath.Join(other, tarName))
		}, false},
		{"a byte appended to the tarball", func(dsc, tarxz []byte) ([]byte, []byte) {
			return dsc, append(tarxz, 0)
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			dsc, tarxz := c.edit(read(filepath.Join(orig, dscName)), read(filepath.Join(orig, tarName)))
			writeFile(t, filepath.Join(dir, dscName), dsc, 0o644)
			writeFile(t, filepath.Join(dir, tarName), tarxz, 0o644)
			r := mksigned(t, "", nil, "verify", "--dsc", filepath.Join(dir, dscName),
				"--unsigned", testutil.DebianFixture(t, shimUnsigned), "--cert", cert)
			if c.ok {
				if r.code != 0 || countPrefix(r.stdout, "OK ") != 2 {
					t.Errorf("exit %d, stdout %q, stderr %q; want 0 and 2 OK lines", r.code, r.stdout, r.stderr)
				}
				return
			}
			// The refusal names the tarball and what the .dsc says.
			want := regexp.MustCompile(`^mksigned: ` + regexp.QuoteMeta(tarName) + `: (sha256 [0-9a-f]{64} and )?size \d+, but ` +
				regexp.QuoteMeta(dscName) + ` says [0-9a-f]{64} and \d+\n$`)
			if r.code != 1 || r.stdout != "" || !want.MatchString(r.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing on stdout, and stderr matching %s", r.code, r.stdout, r.stderr, want)
			}
		})
	}
}
