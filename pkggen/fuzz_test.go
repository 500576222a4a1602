package pkggen

import (
	"strings"
	"testing"
)

func FuzzParseParagraphs(f *testing.F) {
	f.Add([]byte(richControl))
	f.Add([]byte(testsControl))
	f.Add([]byte("Source: x\n\n\nPackage: y\n .\n ..\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		paras, err := parseParagraphs(data, "debian/control")
		if err != nil {
			return
		}
		for _, p := range paras {
			if len(p.names) != len(p.values) {
				t.Fatalf("%d names but %d values", len(p.names), len(p.values))
			}
		}
	})
}

func FuzzParseDeps(f *testing.F) {
	f.Add("debhelper (>= 9.0.0), sbsigntool [amd64 arm64 armhf i386], a:native (>= 1) <!nocheck> <cross>, b | c (<< 2)")
	f.Add("d (=1.0), d (>= 0.5), e | f, e, old (< 2), g (>> 1) [!i386] <!nocheck>,,")
	f.Fuzz(func(t *testing.T, s string) {
		list, err := parseDeps(s, depOptions{buildDep: true})
		if err != nil {
			return
		}
		out := formatDeps(simplifyAnd(list))
		if strings.Contains(out, "[]") {
			return // dpkg writes "[]" for "[ ]", and cannot read it back
		}
		// dpkg's output parses again, to the same text.
		again, err := parseDeps(out, depOptions{buildDep: true})
		if err != nil {
			t.Fatalf("output %q of %q does not parse: %v", out, s, err)
		}
		if got := formatDeps(again); got != out {
			t.Fatalf("round trip of %q: %q, then %q", s, out, got)
		}
		for _, g := range list {
			if len(g) > 1 {
				return
			}
		}
		simplifyUnion(list)
	})
}

func FuzzWildmatch(f *testing.F) {
	for _, p := range defaultExcludes {
		f.Add(p, "pkg/"+p)
	}
	f.Fuzz(func(t *testing.T, pat, s string) {
		_ = wildmatch(pat, s) // must not panic or hang
		if wildmatch(pat, pat) && !wildmatch("*", pat) {
			t.Fatal("* does not match everything")
		}
	})
}

// excludedNaive is excluded as GNU tar states it: each default pattern
// against the whole name and every part of it after a '/'.
func excludedNaive(p string) (string, bool) {
	for _, pat := range defaultExcludes {
		if wildmatch(pat, p) {
			return pat, true
		}
		for i := 0; i < len(p); i++ {
			if p[i] == '/' && wildmatch(pat, p[i+1:]) {
				return pat, true
			}
		}
	}
	return "", false
}

// FuzzExcluded: excluded's quick rejections (a pattern's literal head and
// tail) never change its answer.
func FuzzExcluded(f *testing.F) {
	for _, p := range defaultExcludes {
		f.Add("pkg/" + p)
		f.Add("pkg/x/" + p + "/y")
	}
	f.Add("pkg/debian/signatures/linux-image/lib/modules/6.1.0/kernel/fs/ext4.ko.sig")
	f.Fuzz(func(t *testing.T, p string) {
		gotPat, got := excluded(p)
		wantPat, want := excludedNaive(p)
		if got != want || gotPat != wantPat {
			t.Fatalf("excluded(%q) = %q, %v; want %q, %v", p, gotPat, got, wantPat, want)
		}
	})
}
