package tests

// Bounded time and memory (issue 9, section 4): inputs that are small on
// disk but large in memory, or sizes past what a real template or package
// reaches, are refused early, with the reason, by the built binary, in
// little time and memory. Each case names what it took before.

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// limitRSS bounds the peak RSS of a refused run: mksigned itself takes
// about 10 MB; each case took hundreds of MB before its limit.
const limitRSS = 64 << 20

// refusedQuickly runs mksigned with args and checks that it exits 1
// within 5 s and limitRSS, with every one of want in its stderr.
func refusedQuickly(t *testing.T, want []string, args ...string) {
	t.Helper()
	r, took, rss := runLimited(t, 30*time.Second, nil, args...)
	t.Logf("exit %d in %v, peak RSS %d MiB; stderr: %s", r.code, took.Round(time.Millisecond), rss>>20, strings.TrimSpace(r.stderr))
	if r.code != 1 {
		t.Errorf("exit %d, want 1; stderr: %s", r.code, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q does not mention %q", r.stderr, w)
		}
	}
	if took > 5*time.Second {
		t.Errorf("took %v, want under 5 s", took)
	}
	if rss > limitRSS {
		t.Errorf("peak RSS %d MiB, want at most %d MiB", rss>>20, limitRSS>>20)
	}
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
