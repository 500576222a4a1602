package template

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLinks checks the link rules against the kernel: it makes the tree on
// disk and resolves each link through os.Root, which follows links the
// way the kernel does and refuses to leave its root. A link the kernel
// resolves to an existing path inside the tree must be accepted; one for
// which the root reports an escape must be refused.
func FuzzLinks(f *testing.F) {
	for _, s := range [][3]string{
		{"a", "b", "l3"},
		{"..", "../..", "../../.."},
		{"a/b/l3", "../l1", "."},
		{"/etc", "b", "x"},
		{"a/../..", "l2/..", "../../l1/a"},
		{"l1", "l2", "l3"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, t1, t2, t3 string) {
		targets := []string{t1, t2, t3}
		names := []string{"debian/l1", "debian/a/l2", "debian/a/b/l3"}
		for _, tg := range targets {
			if tg == "" || len(tg) > 200 || strings.ContainsAny(tg, "\x00") {
				return
			}
		}
		// The tree as Parse sees it, source-template/ stripped.
		var source, links []Entry
		for _, e := range []Entry{dir("debian"), dir("debian/a"), dir("debian/a/b")} {
			e.Name = strings.TrimPrefix(e.Name, "source-template/")
			source = append(source, e)
		}
		for i := range names {
			e := link(names[i], targets[i])
			e.Name = names[i]
			source = append(source, e)
			links = append(links, e)
		}
		tree, err := nameTree(source)
		if err != nil {
			t.Fatal(err)
		}

		// The same tree on disk, nested below two directories that a
		// link could escape into.
		base := t.TempDir()
		st := filepath.Join(base, "outer", "inner", "source-template")
		if err := os.MkdirAll(filepath.Join(st, "debian/a/b"), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range names {
			if err := os.Symlink(targets[i], filepath.Join(st, names[i])); err != nil {
				t.Fatal(err)
			}
		}
		root, err := os.OpenRoot(st)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		for i, n := range names {
			steps := 0
			perr := resolveLink(tree, &links[i], &steps)
			if perr != nil && !errors.Is(perr, ErrLinkEscapes) && !strings.Contains(perr.Error(), "links to follow") {
				t.Fatalf("%s -> %q: unexpected error %v", n, targets[i], perr)
			}
			_, serr := root.Stat(n)
			switch {
			case serr == nil && perr != nil:
				t.Fatalf("%s -> %q resolves inside the tree, but Parse says: %v", n, targets[i], perr)
			case serr != nil && strings.Contains(serr.Error(), "escapes") && perr == nil:
				t.Fatalf("%s -> %q: os.Root says %v, but Parse accepted it", n, targets[i], serr)
			}
		}
	})
}
