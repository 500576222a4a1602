package template

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/inputerr"
)

func link(name, target string) Entry {
	return Entry{Name: "source-template/" + name, Mode: fs.ModeSymlink | 0o777, Data: []byte(target)}
}

func dir(name string) Entry {
	return Entry{Name: "source-template/" + name, Mode: fs.ModeDir | 0o755}
}

// TestLinksKept: links that stay inside source-template/ are kept as links,
// with their targets, as dpkg-source -b keeps them (Debian's 6.12 kernel
// templates ship "mips64 -> mips" and the like).
func TestLinksKept(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("d/", 60) + "f" // over 100 bytes: a GNU 'K' record
	es := append(testEntries(),
		dir("debian/installer"),
		dir("debian/installer/modules"),
		dir("debian/installer/modules/mips"),
		link("debian/installer/modules/mips64", "mips"),
		link("debian/installer/modules/ppc64", "powerpc-powerpc64"), // dangling, as in the real template
		link("debian/up", ".."),
		link("debian/rules.link", "./rules"),
		link("debian/chain", "up/debian/up/debian/rules"),
		link("debian/long", long),
		link("debian/through", "installer/modules/mips64/../mips"),
	)
	tp, err := Parse("t", es)
	if err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{
		"debian/installer/modules/mips64": "mips",
		"debian/long":                     long,
		"debian/chain":                    "up/debian/up/debian/rules",
	} {
		e := tp.file(name)
		if e == nil || e.Mode.Type() != fs.ModeSymlink || string(e.Data) != target {
			t.Errorf("%s = %+v, want a link to %q", name, e, target)
		}
	}
}

func TestLinkErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		extra []Entry
		msg   string // the error names the link's path and says this
		path  string
	}{
		{"absolute", []Entry{link("debian/x", "/etc/passwd")}, `target "/etc/passwd" is absolute`, "debian/x"},
		{"climbs out", []Entry{link("debian/x", "../../etc")}, `target "../../etc" climbs above source-template/`, "debian/x"},
		{"climbs out from root", []Entry{link("x", "..")}, `climbs above source-template/`, "x"},
		{"out through another link", []Entry{link("debian/up", ".."), link("debian/x", "up/..")}, `target "up/.." climbs above`, "debian/x"},
		// debian/l/../.. is the root when read as text, but the kernel
		// resolves debian/l to debian first.
		{"lexically in, really out", []Entry{link("debian/l", "."), link("debian/x", "l/../..")},
			`"l/../.." climbs above`, "debian/x"},
		{"through an absolute link", []Entry{link("debian/abs", "/tmp"), link("debian/x", "abs/y")}, `absolute`, "debian/abs"},
		{"loop", []Entry{link("debian/a", "b"), link("debian/b", "a")}, "more than 40 links", "debian/a"},
		{"self loop", []Entry{link("debian/a", "a/x")}, "more than 40 links", "debian/a"},
		{"empty target", []Entry{link("debian/x", "")}, "empty target", "debian/x"},
		{"NUL in target", []Entry{link("debian/x", "a\x00b")}, "NUL", "debian/x"},
		{"entry below a link", []Entry{dir("debian/real"), link("debian/lnk", "real"), {Name: "source-template/debian/lnk/f", Data: []byte("x")}},
			`lies below debian/lnk, a symbolic link to "real"`, "debian/lnk/f"},
		{"signatures is a link", []Entry{dir("debian/sigs"), link("debian/signatures", "sigs")},
			`is a symbolic link to "sigs": debian/signatures/ is written by the signer, and building the package would write through the link`, "debian/signatures"},
		{"changelog is a link", []Entry{link("debian/changelog.real", "changelog")}, "", ""}, // allowed: only a link, not the file
		{"files.json is a link", []Entry{{Name: "files.json.lnk", Mode: fs.ModeSymlink | 0o777, Data: []byte("files.json")}},
			"only entries inside source-template/ may be links", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t", append(testEntries(), tc.extra...))
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want one saying %q", tc.msg)
			}
			var ie *inputerr.Error
			if !errors.As(err, &ie) {
				t.Errorf("error %v is %T, want *inputerr.Error", err, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
			if tc.path != "" && !strings.Contains(err.Error(), "source-template/"+tc.path+": ") {
				t.Errorf("error %q does not name source-template/%s", err, tc.path)
			}
		})
	}
}

// TestRequiredFilesNotLinks: the files mksigned reads (and dpkg-source
// reads) must be the files themselves: a link could point anywhere the
// builder's tree allows.
func TestRequiredFilesNotLinks(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"debian/changelog", "debian/control", "debian/copyright", "debian/rules", "debian/source/format"} {
		t.Run(name, func(t *testing.T) {
			es := testEntries()
			for i := range es {
				if es[i].Name == "source-template/"+name {
					es = append(es[:i], es[i+1:]...)
					break
				}
			}
			es = append(es, link(name, "elsewhere"))
			_, err := Parse("t", es)
			if err == nil || !strings.Contains(err.Error(), `is a symbolic link to "elsewhere", but must be a regular file`) {
				t.Errorf("got %v, want an error saying it must be a regular file", err)
			}
		})
	}
}

// TestLinkOnSignaturePath calls checkLinks on a template that skipped the
// other checks: a link on any directory a signature goes into is refused
// on its own, whatever else refuses it first today.
func TestLinkOnSignaturePath(t *testing.T) {
	t.Parallel()
	tp, err := Parse("t", testEntries())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"debian", "debian/signatures", "debian/signatures/fwupd-unsigned/usr"} {
		c := *tp
		c.Source = []Entry{{Name: d, Mode: fs.ModeSymlink | 0o777, Data: []byte("elsewhere")}}
		err := c.checkLinks()
		want := `source-template/` + d + `: is a symbolic link to "elsewhere", but the signature debian/signatures/fwupd-unsigned/usr/libexec/fwupd/efi/fwupdx64.efi.sig goes below it`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("link at %s: got %v, want %q", d, err, want)
		}
	}
}

// TestDebianDirLink: a source-template whose debian/ is a link says so,
// not only that debian/changelog is missing.
func TestDebianDirLink(t *testing.T) {
	t.Parallel()
	var es []Entry
	for _, e := range testEntries() {
		if strings.HasPrefix(e.Name, "source-template/debian") {
			e.Name = strings.Replace(e.Name, "source-template/debian", "source-template/real", 1)
		}
		es = append(es, e)
	}
	es = append(es, link("debian", "real"))
	_, err := Parse("t", es)
	if want := `source-template/debian/changelog: missing: debian is a symbolic link to "real"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want %q", err, want)
	}
}
