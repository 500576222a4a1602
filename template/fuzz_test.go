package template

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/testutil"
)

// sourceName is the oracle for a source package name (Debian policy
// §5.6.1), independent of debname.ValidPackage.
var sourceName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)

// checkTemplate fails unless tp, which Parse or Load accepted, keeps
// what they promise: every name clean and local, source-template sorted
// and without duplicates, the files a source template needs, none that
// are forbidden, a 3.0 (native) format and a native version.
func checkTemplate(t *testing.T, tp *Template) {
	t.Helper()
	if tp.Name == "" || strings.Contains(tp.Name, "/") || tp.Name == "." || tp.Name == ".." {
		t.Fatalf("template name %q", tp.Name)
	}
	for i, e := range tp.Source {
		if e.Name != "." && !localPath(e.Name) {
			t.Fatalf("source-template entry %q is not a clean local path", e.Name)
		}
		if i > 0 && tp.Source[i-1].Name >= e.Name {
			t.Fatalf("source-template entries %q and %q out of order or repeated", tp.Source[i-1].Name, e.Name)
		}
		if e.Name == "debian/signatures" || strings.HasPrefix(e.Name, "debian/signatures/") ||
			e.Name == "debian/source/options" || e.Name == "debian/source/local-options" {
			t.Fatalf("source-template holds %s", e.Name)
		}
	}
	byName := map[string]Entry{}
	for _, e := range tp.Source {
		byName[e.Name] = e
	}
	for _, f := range []string{"debian/changelog", "debian/control", "debian/copyright", "debian/rules", "debian/source/format"} {
		if e, ok := byName[f]; !ok || !e.Mode.IsRegular() {
			t.Fatalf("accepted a template without a regular %s", f)
		}
	}
	if got := strings.TrimSpace(string(byName["debian/source/format"].Data)); got != "3.0 (native)" {
		t.Fatalf("accepted source format %q", got)
	}
	if !sourceName.MatchString(tp.SourceName) || !tp.Version.IsNative() {
		t.Fatalf("accepted source %q version %q", tp.SourceName, tp.Version)
	}
	if tp.Manifest == nil || len(tp.Manifest.Packages) == 0 {
		t.Fatal("accepted a template whose files.json names no package")
	}
	for _, p := range tp.Manifest.Packages {
		for _, f := range p.Files {
			if !localPath(f.Path) {
				t.Fatalf("files.json path %q is not a clean local path", f.Path)
			}
		}
	}
}

// checkInputError fails unless err is an *inputerr.Error.
func checkInputError(t *testing.T, err error) {
	t.Helper()
	var ie *inputerr.Error
	if !errors.As(err, &ie) {
		t.Fatalf("error %q (%T) is not an *inputerr.Error", err, err)
	}
}

// FuzzParse parses whole template trees: the test template with its
// changelog, control, source format and files.json replaced by the
// input, and one more entry of any name, mode and contents.
func FuzzParse(f *testing.F) {
	get := func(name string) []byte {
		for _, e := range testEntries() {
			if e.Name == name {
				return e.Data
			}
		}
		f.Fatalf("no %s in testEntries", name)
		return nil
	}
	changelog, control := get("source-template/debian/changelog"), get("source-template/debian/control")
	format, files := get("source-template/debian/source/format"), get("files.json")
	f.Add(changelog, control, format, files, "", uint32(0), []byte(nil))
	f.Add(changelog, control, format, files, "source-template/debian/patches/x", uint32(0o644), []byte("x"))
	f.Add(changelog, control, format, files, "source-template/debian/signatures/p/a.sig", uint32(0o644), []byte("x"))
	f.Add(changelog, control, format, files, "source-template/../x", uint32(0o644), []byte("x"))
	f.Add(changelog, control, format, files, "source-template/debian/x", uint32(fs.ModeSymlink|0o777), []byte("../../x"))
	f.Add(changelog, control, format, files, "source-template/debian", uint32(fs.ModeDir|0o755), []byte(nil))
	f.Add(changelog, bytes.Replace(control, []byte("Build-Depends:"), []byte("Build-Depends-Arch: a (>= 1) [amd64] | b,\nBuild-Depends-Indep: c <!nocheck>\nBuild-Depends:"), 1),
		[]byte("3.0 (quilt)\n"), files, "source-template/debian/source/options", uint32(0o644), []byte(""))
	f.Fuzz(func(t *testing.T, changelog, control, format, files []byte, name string, mode uint32, data []byte) {
		es := testEntries()
		for i := range es {
			switch es[i].Name {
			case "source-template/debian/changelog":
				es[i].Data = changelog
			case "source-template/debian/control":
				es[i].Data = control
			case "source-template/debian/source/format":
				es[i].Data = format
			case "files.json":
				es[i].Data = files
			}
		}
		if name != "" {
			es = append(es, Entry{Name: name, Mode: fs.FileMode(mode), ModTime: time.Unix(1674832557, 0), Data: data})
		}
		tp, err := Parse("fuzz-signed-template", es)
		if err != nil {
			checkInputError(t, err)
			return
		}
		checkTemplate(t, tp)
	})
}

// arMember returns the named member of the ar archive b, or nil.
func arMember(b []byte, name string) []byte {
	for off := 8; off+60 <= len(b); {
		size, err := strconv.Atoi(strings.TrimSpace(string(b[off+48 : off+58])))
		if err != nil || off+60+size > len(b) {
			return nil
		}
		if strings.TrimRight(string(b[off:off+16]), " /") == name {
			return b[off+60 : off+60+size]
		}
		off += 60 + size + size%2
	}
	return nil
}

// templateDeb returns a *-signed-template .deb whose data.tar is data.
func templateDeb(t testing.TB, data []byte) []byte {
	t.Helper()
	var control bytes.Buffer
	zw := gzip.NewWriter(&control)
	tw := tar.NewWriter(zw)
	ctl := []byte("Package: fuzz-signed-template\nVersion: 1\nArchitecture: amd64\nMaintainer: m <m@example.org>\nDescription: d\n")
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "./control", Mode: 0o644, Size: int64(len(ctl))})
	tw.Write(ctl)
	tw.Close()
	zw.Close()
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range []struct {
		name string
		data []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", control.Bytes()}, {"data.tar", data}} {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, 0, 0, 0, "100644", len(m.data))
		b.Write(m.data)
		if len(m.data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// FuzzLoadDeb loads a template package whose data.tar is the input,
// seeded with the data of Debian's fwupd and shim template packages.
func FuzzLoadDeb(f *testing.F) {
	for _, name := range []string{"fwupd-amd64-signed-template_1.4-1_amd64.deb", "shim-helpers-amd64-signed-template_16.1-2~deb12u1_amd64.deb"} {
		b, err := os.ReadFile(testutil.DebianFixture(f, name))
		if err != nil {
			f.Fatal(err)
		}
		rc, err := deb.Decompress("data.tar.xz", bytes.NewReader(arMember(b, "data.tar.xz")))
		if err != nil {
			f.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			f.Fatalf("%s: data.tar.xz: %v", name, err)
		}
		// The seed loads, so the fuzzing starts from packages that pass.
		p := filepath.Join(f.TempDir(), name)
		if err := os.WriteFile(p, templateDeb(f, data), 0o644); err != nil {
			f.Fatal(err)
		}
		if _, err := Load(p); err != nil {
			f.Fatalf("%s's data.tar in a package of our own: %v", name, err)
		}
		f.Add(data)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range testEntries() {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: "./usr/share/code-signing/fuzz-signed-template/" + e.Name,
			Mode: int64(e.Mode.Perm()), Size: int64(len(e.Data)), ModTime: e.ModTime}
		if e.Mode.IsDir() {
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		}
		tw.WriteHeader(h)
		tw.Write(e.Data)
	}
	tw.Flush()
	one := bytes.Clone(b.Bytes())
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "./usr/share/code-signing/other-signed-template/", Mode: 0o755})
	tw.Close()
	f.Add(b.Bytes()) // two templates
	var l bytes.Buffer
	l.Write(one)
	tw = tar.NewWriter(&l)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "./usr/share/code-signing/fuzz-signed-template/source-template/debian/l", Linkname: "../../x"})
	tw.Close()
	f.Add(l.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "fuzz-signed-template_1_amd64.deb")
		if err := os.WriteFile(p, templateDeb(t, data), 0o644); err != nil {
			t.Fatal(err)
		}
		tp, err := Load(p)
		if err != nil {
			checkInputError(t, err)
			return
		}
		checkTemplate(t, tp)
		// archive/tar sees the one template Load took, and no other.
		names := map[string]bool{}
		tr := tar.NewReader(bytes.NewReader(data))
		for {
			hdr, err := tr.Next()
			if err != nil {
				break
			}
			if rest, ok := strings.CutPrefix(path.Clean(hdr.Name), "usr/share/code-signing/"); ok {
				names[strings.Split(rest, "/")[0]] = true
			}
		}
		if len(names) > 0 && (len(names) != 1 || !names[tp.Name]) {
			t.Fatalf("loaded template %s from a package holding %v", tp.Name, names)
		}
	})
}

// parseWithBuildDepends parses the test template with debian/control's
// Build-Depends replaced.
func parseWithBuildDepends(deps string) (*Template, error) {
	es := testEntries()
	for i := range es {
		if es[i].Name == "source-template/debian/control" {
			es[i].Data = []byte("Source: fwupd-amd64-signed\nBuild-Depends: " + deps +
				"\n\nPackage: fwupd-amd64-signed\nArchitecture: amd64\nDescription: test\n test\n")
		}
	}
	return Parse("t", es)
}

// quoted is the relation CheckVersion's error quotes.
var quoted = regexp.MustCompile(`does not satisfy "((?:[^"\\]|\\.)*)"`)

// FuzzCheckVersion parses Build-Depends as CheckVersion sees them and
// checks a package version against them: no panic; a refusal is an
// *inputerr.Error on Build-Depends that names the package and version,
// and the relation it quotes parses back to alternatives of that package
// alone; a relation about another package never changes the answer.
func FuzzCheckVersion(f *testing.F) {
	f.Add(testBuildDepends, "fwupd-unsigned", "1:1.4-2", "amd64")
	f.Add(testBuildDepends, "fwupd-unsigned", "1.4-1", "all")
	f.Add("p (<< 1) | p (>= 2) [!arm64], q | p (= 1.5)", "p", "1.5", "arm64")
	f.Add("p (>= 2) | other [arm64], p:any (>= 1) <!nocheck>", "p", "1", "linux-any")
	f.Fuzz(func(t *testing.T, deps, pkg, ver, arch string) {
		tp, err := parseWithBuildDepends(deps)
		if err != nil {
			checkInputError(t, err)
			return
		}
		v, err := version.Parse(ver)
		if err != nil {
			return
		}
		err = tp.CheckVersion(pkg, v, arch)
		if arch != "" && arch != "all" {
			if _, aerr := dependency.ParseArch(arch); aerr != nil {
				if err == nil {
					t.Fatalf("CheckVersion accepted architecture %q, which does not parse: %v", arch, aerr)
				}
				return
			}
		}
		if err != nil {
			var ie *inputerr.Error
			if !errors.As(err, &ie) || ie.Field != "Build-Depends" {
				t.Fatalf("error %q (%T) is not an *inputerr.Error on Build-Depends", err, err)
			}
			if errors.Is(err, ErrUnknownArch) {
				return // a wildcard that needs an architecture's tuple
			}
			if !strings.Contains(err.Error(), pkg+" "+v.String()+" does not satisfy") {
				t.Fatalf("error %q does not name %s %s", err, pkg, v)
			}
			m := quoted.FindStringSubmatch(err.Error())
			if m == nil {
				t.Fatalf("error %q quotes no relation", err)
			}
			rel, perr := strconv.Unquote(`"` + m[1] + `"`)
			if perr != nil {
				t.Fatalf("error %q: quoted relation: %v", err, perr)
			}
			d, perr := dependency.Parse(rel)
			if perr != nil || len(d.Relations) != 1 || !slices.ContainsFunc(d.Relations[0].Possibilities, func(p dependency.Possibility) bool { return p.Name == pkg }) {
				t.Fatalf("error %q quotes %q, which is not one relation on %s (%v)", err, rel, pkg, perr)
			}
			for _, p := range d.Relations[0].Possibilities {
				if p.Name != pkg {
					t.Fatalf("error %q quotes %q, which names %s too", err, rel, p.Name)
				}
			}
		}
		other := "zz-other-unsigned"
		if pkg == other {
			return
		}
		tp2, err2 := parseWithBuildDepends(other + " (>= 99), " + deps)
		if err2 != nil {
			return
		}
		if again := tp2.CheckVersion(pkg, v, arch); (again == nil) != (err == nil) {
			t.Fatalf("a relation on %s changed CheckVersion(%s %s %s) from %v to %v", other, pkg, v, arch, err, again)
		}
	})
}
