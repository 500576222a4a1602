package pkggen

import "strings"

// dpkg-source -b runs GNU tar with one --exclude per pattern below
// (Dpkg::Source::Package, dpkg 1.21: @tar_ignore_default_pattern, plus the
// four debian/ files that init_options appends for every format). Files
// that match silently vanish from the tarball; a directory that matches
// takes its whole subtree with it.
var defaultExcludes = []string{
	"*.a",
	"*.la",
	"*.o",
	"*.so",
	".*.sw?",
	"*/*~",
	",,*",
	".[#~]*",
	".arch-ids",
	".arch-inventory",
	".be",
	".bzr",
	".bzr.backup",
	".bzr.tags",
	".bzrignore",
	".cvsignore",
	".deps",
	".git",
	".gitattributes",
	".gitignore",
	".gitmodules",
	".gitreview",
	".hg",
	".hgignore",
	".hgsigs",
	".hgtags",
	".mailmap",
	".mtn-ignore",
	".shelf",
	".svn",
	"CVS",
	"DEADJOE",
	"RCS",
	"_MTN",
	"_darcs",
	"{arch}",
	"debian/source/local-options",
	"debian/source/local-patch-header",
	"debian/files",
	"debian/files.new",
}

// excluded reports whether GNU tar, given the default patterns, leaves out
// the member p (a path such as "pkg/debian/x.o", without a trailing slash
// for directories) and returns the pattern that matched.
//
// GNU tar's defaults for --exclude are --no-anchored and
// --wildcards-match-slash: a pattern matches when it matches the whole
// name or any part of it that starts after a '/', and '*' and '?' also
// match '/'. (FNM_LEADING_DIR matching needs no code here: tar checks each
// directory on the way down and does not descend into excluded ones.)
func excluded(p string) (string, bool) {
	for i := range excludes {
		x := &excludes[i]
		// Every part of p that a pattern is tried on ends where p ends,
		// so a pattern whose literal tail p lacks matches none of them.
		if !strings.HasSuffix(p, x.tail) {
			continue
		}
		for start := 0; start <= len(p); start++ {
			if start > 0 && p[start-1] != '/' {
				continue
			}
			if s := p[start:]; strings.HasPrefix(s, x.head) && wildmatch(x.pat, s) {
				return x.pat, true
			}
		}
	}
	return "", false
}

// excludePattern is a default pattern with the literal text it starts
// and ends with: a string it matches must start with head and end with
// tail, which rules out most names without running wildmatch (the tar
// writer asks about every part of every member name).
type excludePattern struct{ pat, head, tail string }

var excludes = func() []excludePattern {
	out := make([]excludePattern, len(defaultExcludes))
	for i, pat := range defaultExcludes {
		h := strings.IndexAny(pat, `*?[\`)
		t := strings.LastIndexAny(pat, `*?[]\`)
		x := excludePattern{pat: pat, head: pat, tail: pat}
		if h >= 0 {
			x.head, x.tail = pat[:h], pat[t+1:]
		}
		out[i] = x
	}
	return out
}()

// wildmatch is fnmatch(3) with no flags: '*' matches any string including
// '/', '?' any one byte, '[...]' a bracket expression ('!' or '^' negates,
// ranges with '-'), and '\' quotes the next byte. A malformed bracket
// expression matches a literal '['. Bytes, not runes, are compared; the
// default patterns are ASCII.
func wildmatch(pat, s string) bool {
	// Iterative matching with backtracking to the last '*'.
	px, sx := 0, 0
	starPx, starSx := -1, 0
	for sx < len(s) || px < len(pat) {
		if px < len(pat) {
			switch c := pat[px]; c {
			case '*':
				starPx, starSx = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					px++
					sx++
					continue
				}
			case '[':
				if sx < len(s) {
					if ok, n, valid := matchBracket(pat[px:], s[sx]); valid {
						if ok {
							px += n
							sx++
							continue
						}
					} else if s[sx] == '[' {
						px++
						sx++
						continue
					}
				}
			case '\\':
				if px+1 < len(pat) {
					if sx < len(s) && s[sx] == pat[px+1] {
						px += 2
						sx++
						continue
					}
				} else if sx < len(s) && s[sx] == '\\' {
					px++
					sx++
					continue
				}
			default:
				if sx < len(s) && s[sx] == c {
					px++
					sx++
					continue
				}
			}
		}
		if starPx >= 0 && starSx < len(s) {
			starSx++
			px, sx = starPx+1, starSx
			continue
		}
		return false
	}
	return true
}

// matchBracket matches byte c against the bracket expression at the start
// of pat ("[...]"). It returns whether c matches, the length of the
// expression, and whether the expression is well formed.
func matchBracket(pat string, c byte) (matched bool, n int, valid bool) {
	i := 1
	negate := false
	if i < len(pat) && (pat[i] == '!' || pat[i] == '^') {
		negate = true
		i++
	}
	first := true
	for i < len(pat) {
		if pat[i] == ']' && !first {
			return matched != negate, i + 1, true
		}
		first = false
		lo := pat[i]
		if lo == '\\' && i+1 < len(pat) {
			i++
			lo = pat[i]
		}
		i++
		hi := lo
		if i+1 < len(pat) && pat[i] == '-' && pat[i+1] != ']' {
			hi = pat[i+1]
			if hi == '\\' && i+2 < len(pat) {
				hi = pat[i+2]
				i++
			}
			i += 2
		}
		if lo <= c && c <= hi {
			matched = true
		}
	}
	return false, 0, false
}

// Excluded reports whether dpkg-source -b, building a tree whose top
// directory is prefix, would leave out the entry name (a slash path
// relative to the tree) or a directory above it, and returns the
// pattern that matched: the entry would then be missing from the tarball.
func Excluded(prefix, name string) (pattern string, ok bool) {
	full := prefix
	for _, c := range strings.Split(name, "/") {
		full += "/" + c
		if pat, ok := excluded(full); ok {
			return pat, true
		}
	}
	return "", false
}
