package deb

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/testutil"
)

// rawHeader is one GNU tar header block with data, written by hand so
// that any typeflag can be given (archive/tar's writer refuses some).
func rawHeader(name string, typ byte, data, link string) []byte {
	b := make([]byte, tarBlockSize)
	copy(b, name)
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], fmt.Sprintf("%011o\x00", len(data)))
	copy(b[136:], "13727335400\x00") // 1600000000
	b[156] = typ
	copy(b[157:], link)
	copy(b[257:], "ustar  \x00")
	copy(b[148:], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
	b = append(b, data...)
	if r := len(data) % tarBlockSize; r != 0 {
		b = append(b, make([]byte, tarBlockSize-r)...)
	}
	return b
}

func rawTar(entries ...[]byte) []byte {
	b := bytes.Join(append([][]byte{rawHeader("./", '5', "", ""), rawHeader("./usr/", '5', "", "")}, entries...), nil)
	return append(b, make([]byte, 2*tarBlockSize)...)
}

// paxRecord is one PAX extended header record: "<len> <key>=<value>\n".
func paxRecord(key, value string) string {
	r := " " + key + "=" + value + "\n"
	n := len(r)
	for len(fmt.Sprint(n+len(fmt.Sprint(n)))) != len(fmt.Sprint(n)) {
		n++
	}
	n += len(fmt.Sprint(n))
	return fmt.Sprint(n) + r
}

// TestDpkgView: what mksigned reads of a package is what dpkg -i installs.
// Each crafted data.tar goes to dpkg --unpack (into a directory of the
// test's own) and to Read: where dpkg refuses the package, Read refuses it
// with dpkg's reason; where dpkg installs a later entry over an earlier
// one, Read refuses the package, naming both offsets, rather than give the
// first copy to be signed.
func TestDpkgView(t *testing.T) {
	t.Parallel()
	first, second := "first", "second"
	for _, tc := range []struct {
		name      string
		data      []byte
		dpkg      string // dpkg's error, or the content it installs at usr/a
		want      string // Read's error
		path      string
		offset    int64
		duplicate bool
	}{
		{"file twice", rawTar(rawHeader("./usr/a", '0', first, ""), rawHeader("./usr/a", '0', second, "")),
			"installs second", `usr/a: offset 0x800: path appears twice in the archive: its first entry's header is at offset 0x400; dpkg would install this one, the last`,
			"usr/a", 0x800, true},
		{"file then link", rawTar(rawHeader("./usr/a", '0', first, ""), rawHeader("./usr/a", '2', "", "b")),
			"installs a link", `usr/a: offset 0x800: path appears twice`, "usr/a", 0x800, true},
		{"file twice, spelled differently", rawTar(rawHeader("./usr/a", '0', first, ""), rawHeader("usr/a", '0', second, "")),
			"installs second", `path appears twice`, "usr/a", 0x800, true},
		{"below a link", rawTar(rawHeader("./usr/l", '2', "", "/tmp"), rawHeader("./usr/l/a", '0', first, "")),
			"", `usr/l/a: offset 0x600: path appears twice in the archive: it lies below usr/l, a symbolic link to "/tmp" at offset 0x400`, "usr/l/a", 0x600, true},
		{"PAX path record", rawTar(rawHeader("./PaxHeaders/a", 'x', paxRecord("path", "./usr/b"), ""), rawHeader("./usr/a", '0', first, "")), "unsupported PAX tar header type 'x'", "unsupported PAX tar header type 'x'", "usr/b", inputerr.NoOffset, false},
		{"PAX global header", rawTar(rawHeader("pax_global_header", 'g', paxRecord("comment", "x"), ""), rawHeader("./usr/a", '0', first, "")), "unsupported PAX tar header type 'g'", "unsupported PAX tar header type 'g'", "pax_global_header", inputerr.NoOffset, false},
		{"GNU sparse", rawTar(rawHeader("./usr/a", 'S', "", "")), "unsupported GNU tar header type 'S'", "unsupported GNU tar header type 'S'", "usr/a", inputerr.NoOffset, false},
		{"GNU volume header", rawTar(rawHeader("./usr/a", 'V', "", "")), "unsupported GNU tar header type 'V'", "unsupported GNU tar header type 'V'", "usr/a", inputerr.NoOffset, false},
		{"contiguous file", rawTar(rawHeader("./usr/a", '7', first, "")), "unknown tar header type '7'", "unknown tar header type '7'", "usr/a", inputerr.NoOffset, false},
		{"unknown type", rawTar(rawHeader("./usr/a", 'Z', "", "")), "unknown tar header type 'Z'", "unknown tar header type 'Z'", "usr/a", inputerr.NoOffset, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			deb := buildAr(
				arMember{"debian-binary", []byte("2.0\n")},
				arMember{"control.tar", controlTar(t, "Package: xx\nVersion: 1\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: t\n")},
				arMember{"data.tar", tc.data},
			)
			if tc.dpkg != "" {
				got := dpkgUnpack(t, deb)
				if !strings.Contains(got, strings.TrimPrefix(tc.dpkg, "installs ")) {
					t.Errorf("dpkg --unpack: %q, want %q", got, tc.dpkg)
				}
			}
			_, err := Read(bytes.NewReader(deb), "x.deb", nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Read: %v, want an error containing %q", err, tc.want)
			}
			var ie *inputerr.Error
			if !errors.As(err, &ie) || ie.Member != "data.tar" || ie.Path != tc.path || ie.Offset != tc.offset {
				t.Errorf("Read: %#v, want member data.tar, path %q, offset %#x", ie, tc.path, tc.offset)
			}
			if errors.Is(err, ErrDuplicate) != tc.duplicate {
				t.Errorf("errors.Is(%v, ErrDuplicate) = %v", err, !tc.duplicate)
			}
		})
	}
}

// dpkgUnpack runs dpkg --unpack on the package, into a directory and
// database of its own, and returns dpkg's error or what it installed at
// /usr/a: "installs <content>" or "installs a link".
func dpkgUnpack(t *testing.T, deb []byte) string {
	t.Helper()
	dpkg := testutil.RequireTool(t, "dpkg")
	dir := t.TempDir()
	inst, admin := filepath.Join(dir, "inst"), filepath.Join(dir, "admin")
	for _, d := range []string{inst, filepath.Join(admin, "info"), filepath.Join(admin, "updates"), filepath.Join(admin, "triggers")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"status", "available"} {
		if err := os.WriteFile(filepath.Join(admin, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "x.deb")
	if err := os.WriteFile(p, deb, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dpkg, "--force-not-root", "--force-script-chrootless", "--instdir="+inst, "--admindir="+admin, "--log=/dev/null", "--unpack", p)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out)
	}
	a := filepath.Join(inst, "usr/a")
	if _, err := os.Readlink(a); err == nil {
		return "installs a link"
	}
	b, err := os.ReadFile(a)
	if err != nil {
		return fmt.Sprintf("installs nothing at usr/a (%v)", err)
	}
	return "installs " + string(b)
}
