package template

// Tests from the review of the link support. Those marked "Was a bug" failed before the fixes; the
// others pass and kill mutants that survived the existing tests.

import (
	"archive/tar"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
)

// Was a bug: dpkg-deb -x writes an entry below any link of the package through
// the link, not only entries under /usr/share/code-signing/. A link
// outside the template that leads into it lets a later entry replace
// debian/rules in the extracted tree (which dpkg-source -b then packs),
// while mksigned packs the template's own debian/rules. Checked by hand:
// dpkg-deb -x + dpkg-source -b of such a package gives a tarball whose
// debian/rules differs from mksigned's.
func TestReview7LoadDebWriteThroughOutsideLink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, link, entry string }{
		{"into source-template/debian", "code-signing/t/source-template/debian", "./usr/share/x/rules"},
		{"new file", "code-signing/t/source-template/debian", "./usr/share/x/evil"},
		{"into the code-signing dir", "code-signing/t", "./usr/share/x/source-template/debian/evil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := linkTemplateDeb(t, nil, []testutil.TarEntry{
				{Name: "./usr/share/x", Type: tar.TypeSymlink, Mode: 0o777, Linkname: tc.link},
				{Name: tc.entry, Type: tar.TypeReg, Mode: 0o755, Body: "#!/bin/sh\necho replaced\n"},
			})
			if _, err := LoadDeb(p); err == nil || !strings.Contains(err.Error(), "lies below usr/share/x") {
				t.Errorf("got %v, want %s refused as lying below the link usr/share/x", err, tc.entry)
			}
		})
	}
}

// Was a bug: resolving links costs O(hops x components x depth): every step
// joins the whole path walked so far. A chain of 40 links, each target
// going 800 directories deep (names the tree does not hold) and back,
// takes about 0.25 s to resolve from each link pointing at its head; a
// template .deb of a few hundred such links (1.3 MB, a few KB as
// data.tar.xz) kept generate --dry-run busy for 2 minutes, and the
// 100000 links LoadDeb allows (400 MB of targets, under maxTemplateSize)
// would take about 14 hours. LoadDir has no bound on links at all.
func TestReview7LinkResolutionCost(t *testing.T) {
	t.Parallel()
	pad := strings.Repeat("b/", 800) + strings.Repeat("../", 800)
	es := testEntries()
	for i := 0; i < 40; i++ {
		next := fmt.Sprintf("c%02d", i+1)
		if i == 39 {
			next = "rules"
		}
		es = append(es, link(fmt.Sprintf("debian/c%02d", i), pad+next))
	}
	for i := 0; i < 2; i++ {
		es = append(es, link(fmt.Sprintf("debian/h%02d", i), pad+"c00"))
	}
	start := time.Now()
	_, err := Parse("t", es)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Parse of 42 links took %v (err %v), want well under 2s", d, err)
	}
}

// "//" is one separator: debian/x -> "..//.." is debian/../.., above the
// tree. Kills: treating "" as a component (case "", "." -> case ".").
func TestReview7DoubleSlashClimbs(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"..//..", "..//../", ".././/..", "//"} {
		_, err := Parse("t", append(testEntries(), link("debian/x", target)))
		if err == nil || !strings.Contains(err.Error(), "source-template/debian/x: symbolic link leads outside") {
			t.Errorf("debian/x -> %q: got %v, want it refused as leading outside", target, err)
		}
	}
}

// Was a bug (off by one): the kernel follows at most 40 links in one resolution,
// the first included: stat -L of l0 in a chain l0 -> l1 -> ... -> l40 ->
// rules (41 links) fails with ELOOP, but resolveLink does not count the
// link it starts from and accepts it. Also kills hops > maxLinkHops+1.
func TestReview7HopBound(t *testing.T) {
	t.Parallel()
	chain := func(n int) []Entry {
		es := testEntries()
		// debian/l0 -> l1 -> ... -> l(n-1) -> rules: resolving l0
		// follows n links.
		for i := 0; i < n; i++ {
			next := fmt.Sprintf("l%d", i+1)
			if i == n-1 {
				next = "rules"
			}
			es = append(es, link(fmt.Sprintf("debian/l%d", i), next))
		}
		return es
	}
	if _, err := Parse("t", chain(40)); err != nil {
		t.Errorf("a chain of 40 links: %v, want it accepted", err)
	}
	if _, err := Parse("t", chain(41)); err == nil || !strings.Contains(err.Error(), "more than 40 links") {
		t.Errorf("a chain of 41 links: %v, want it refused", err)
	}
}

// An entry two levels below a link is refused too. Kills: checking only
// the immediate parent in checkLinks.
func TestReview7EntryDeepBelowLink(t *testing.T) {
	t.Parallel()
	_, err := Parse("t", append(testEntries(), dir("debian/real"), link("debian/lnk", "real"),
		Entry{Name: "source-template/debian/lnk/sub/f", Data: []byte("x")}))
	if err == nil || !strings.Contains(err.Error(), "source-template/debian/lnk/sub/f: lies below debian/lnk") {
		t.Errorf("got %v, want debian/lnk/sub/f refused", err)
	}
}

// Linux's targets are at most 4095 bytes. Kills: > -> >= and dropping
// the bound.
func TestReview7TargetLength(t *testing.T) {
	t.Parallel()
	ok := strings.Repeat("a/", 2047) + "b" // 4095 bytes, dangling inside
	if _, err := Parse("t", append(testEntries(), link("debian/x", ok))); err != nil {
		t.Errorf("4095-byte target: %v", err)
	}
	if _, err := Parse("t", append(testEntries(), link("debian/x", ok+"c"))); err == nil || !strings.Contains(err.Error(), "4096 bytes") {
		t.Errorf("4096-byte target: %v, want it refused", err)
	}
}

// dpkg-deb -x makes a link whatever mode its header says, and Linux
// reports 0777. Kills: te.Mode = fs.ModeSymlink | e.Mode.Perm().
func TestReview7LoadDebLinkMode(t *testing.T) {
	t.Parallel()
	const st = "./usr/share/code-signing/t/source-template/debian/"
	tp, err := LoadDeb(linkTemplateDeb(t, nil, []testutil.TarEntry{
		{Name: st + "l", Type: tar.TypeSymlink, Mode: 0o644, Linkname: "rules"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if e := tp.file("debian/l"); e == nil || e.Mode != fs.ModeSymlink|0o777 {
		t.Errorf("debian/l = %+v, want mode %v", e, fs.ModeSymlink|0o777)
	}
}

// README: "A file with a second name outside source-template/ is an
// ordinary file": files.json is outside it. Kills: dropping the
// source-template/ prefix test of LoadDir's hard link check.
func TestReview7HardLinkFilesJSON(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "t")
	writeEntries(t, dir, testEntries())
	if err := os.Link(filepath.Join(dir, "files.json"), filepath.Join(dir, "source-template/files.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(dir); err != nil {
		t.Errorf("source-template/files.json, a second name of files.json: %v", err)
	}
}

// A template may hold maxLinks links, not one more.
func TestReview7MaxLinksExactly(t *testing.T) {
	t.Parallel()
	es := append(testEntries(), dir("debian/l"))
	for i := 0; i < maxLinks; i++ {
		es = append(es, link(fmt.Sprintf("debian/l/%d", i), "x"))
	}
	if _, err := Parse("t", es); err != nil {
		t.Errorf("a template with exactly %d links: %v", maxLinks, err)
	}
	es = append(es, link("debian/l/one-more", "x"))
	if _, err := Parse("t", es); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than %d symbolic links in one template", maxLinks)) {
		t.Errorf("a template with %d links: %v, want it refused", maxLinks+1, err)
	}
}
