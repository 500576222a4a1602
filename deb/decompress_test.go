package deb

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"

	"github.com/mksigned/mksigned/internal/testutil"
)

// TestRecompressed rebuilds fwupd-unsigned with each compression dpkg-deb
// offers, adding a symlink, a hard link and a setuid file, and checks every
// form against dpkg-deb and against each other.
func TestRecompressed(t *testing.T) {
	t.Parallel()
	testutil.RequireTool(t, "dpkg-deb")
	ar := testutil.RequireTool(t, "ar")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	dpkgDeb(t, "-R", testutil.DebianFixture(t, "fwupd-unsigned_1.4-1_amd64.deb"), tree)
	doc := filepath.Join(tree, "usr/share/doc/fwupd-unsigned")
	if err := os.Symlink("changelog.Debian.gz", filepath.Join(doc, "symlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(doc, "copyright"), filepath.Join(doc, "hardlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(doc, "setuid"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(doc, "setuid"), 0o4755|fs.ModeSetuid); err != nil {
		t.Fatal(err)
	}

	type form struct {
		z       string
		members string // as ar t lists them
	}
	var first []gotEntry
	var firstPkg *Package
	for _, f := range []form{
		{"xz", "debian-binary control.tar.xz data.tar.xz"},
		{"gzip", "debian-binary control.tar.gz data.tar.gz"},
		{"zstd", "debian-binary control.tar.zst data.tar.zst"},
		{"none", "debian-binary control.tar data.tar"},
	} {
		deb := filepath.Join(dir, f.z+".deb")
		dpkgDeb(t, "--root-owner-group", "-Z"+f.z, "-b", tree, deb)
		if got := strings.Join(strings.Fields(string(testutil.Run(t, dir, ar, "t", deb))), " "); got != f.members {
			t.Fatalf("-Z%s: ar t gives %q, want %q", f.z, got, f.members)
		}
		pkg, entries := checkAgainstDpkg(t, deb)
		var kinds []byte
		for _, e := range entries {
			if e.Type != tar.TypeReg && e.Type != tar.TypeDir {
				kinds = append(kinds, e.Type)
			}
		}
		if string(kinds) != "12" && string(kinds) != "21" {
			t.Errorf("-Z%s: link entries %q, want a symlink and a hard link", f.z, kinds)
		}
		if first == nil {
			first, firstPkg = entries, pkg
			continue
		}
		if diff := cmp.Diff(first, entries); diff != "" {
			t.Errorf("-Z%s: entries differ from -Zxz:\n%s", f.z, diff)
		}
		if want := "data.tar" + map[string]string{"xz": ".xz", "gzip": ".gz", "zstd": ".zst", "none": ""}[f.z]; pkg.DataMember != want {
			t.Errorf("-Z%s: DataMember %q, want %q", f.z, pkg.DataMember, want)
		}
		pkg.DataMember = firstPkg.DataMember
		if diff := cmp.Diff(firstPkg, pkg); diff != "" {
			t.Errorf("-Z%s: control differs from -Zxz:\n%s", f.z, diff)
		}
	}

	// dpkg-deb no longer writes bzip2, but reads it: build one by hand.
	bzip := testutil.RequireTool(t, "bzip2")
	dataTar := []byte(dpkgDeb(t, "--fsys-tarfile", filepath.Join(dir, "none.deb")))
	ctrlTar := []byte(dpkgDeb(t, "--ctrl-tarfile", filepath.Join(dir, "none.deb")))
	cmd := exec.Command(bzip, "-c")
	cmd.Stdin = bytes.NewReader(dataTar)
	dataBz2, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	deb := filepath.Join(dir, "bz2.deb")
	if err := os.WriteFile(deb, buildAr(
		arMember{"debian-binary", []byte("2.0\n")},
		arMember{"control.tar", ctrlTar},
		arMember{"data.tar.bz2", dataBz2},
	), 0o644); err != nil {
		t.Fatal(err)
	}
	_, entries := checkAgainstDpkg(t, deb)
	if diff := cmp.Diff(first, entries); diff != "" {
		t.Errorf("bzip2: entries differ from -Zxz:\n%s", diff)
	}
}

// TestWalkTarSourceTarball walks a plain .tar.xz the way the CLI reads a
// source package: Decompress, then WalkTar.
func TestWalkTarSourceTarball(t *testing.T) {
	t.Parallel()
	xzTool := testutil.RequireTool(t, "xz")
	tarData := testDataTar(t)
	cmd := exec.Command(xzTool, "-c")
	cmd.Stdin = bytes.NewReader(tarData)
	compressed, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := Decompress("hello_1.0.tar.xz", bytes.NewReader(compressed))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var paths []string
	if err := WalkTar(rc, func(e *Entry, body io.Reader) error {
		paths = append(paths, e.Path)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{".", "usr", "usr/bin", "usr/bin/hello", "usr/bin/hi", "usr/bin/hey"}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}

	// A corrupt xz stream fails, even when the damage is after the tar's
	// end marker is readable (the check at the stream's end).
	bad := bytes.Clone(compressed)
	bad[len(bad)-20] ^= 0xff
	rc2, err := Decompress("hello_1.0.tar.xz", bytes.NewReader(bad))
	if err != nil {
		t.Fatal(err)
	}
	defer rc2.Close()
	if err := WalkTar(rc2, nil); err == nil {
		t.Error("WalkTar of a damaged .tar.xz: no error")
	}
}

func TestDecompressSuffixes(t *testing.T) {
	t.Parallel()
	for name, wantErr := range map[string]bool{
		"a.tar": false, "a": false, "a.tar.gz": false, "a.tar.xz": false, "a.tar.zst": false,
		"a.tar.bz2": false, "a.tar.lzma": true, "a.tar.lz4": true, "a.zip": true,
	} {
		rc, err := Decompress(name, bytes.NewReader(nil))
		if rc != nil {
			rc.Close()
		}
		if wantErr != (err != nil && strings.Contains(err.Error(), "unknown compression suffix")) {
			t.Errorf("Decompress(%q) error = %v, want unknown-suffix error: %v", name, err, wantErr)
		}
	}
}

// TestZstdNoLeak checks that the zstd decoder's goroutines end with Read,
// whether it reads everything, stops early, or fails. Not parallel: it
// counts goroutines.
func TestZstdNoLeak(t *testing.T) {
	zst := func(data []byte) []byte {
		var b bytes.Buffer
		zw, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := zw.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	// Big enough that stopping at the first entry leaves the decoder
	// mid-stream.
	big := make([]byte, 8<<20)
	for i := range big {
		big[i] = byte(i * 7 / 3)
	}
	dataZst := zst(buildTar(t,
		tarEntry{name: "./", typ: tar.TypeDir, mode: 0o755},
		tarEntry{name: "./big", typ: tar.TypeReg, mode: 0o644, body: string(big)},
	))
	good := buildAr(
		arMember{"debian-binary", []byte("2.0\n")},
		arMember{"control.tar.zst", zst(controlTar(t, testControl))},
		arMember{"data.tar.zst", dataZst},
	)
	bad := bytes.Clone(good)
	bad[len(bad)-len(dataZst)/2] ^= 0xff

	before := runtime.NumGoroutine()
	stop := func(*Package, *Entry, io.Reader) error { return ErrStop }
	for i := 0; i < 20; i++ {
		if _, err := Read(bytes.NewReader(good), "z.deb", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(bytes.NewReader(good), "z.deb", stop); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(bytes.NewReader(bad), "z.deb", nil); err == nil {
			t.Fatal("corrupt data.tar.zst: no error")
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after 60 reads, %d before: the zstd decoder leaks", n, before)
	}
}

// TestDecompressTruncated checks that every compressed format reports a
// stream cut short as an error, never as a clean end.
func TestDecompressTruncated(t *testing.T) {
	t.Parallel()
	plain := testDataTar(t)
	tool := func(name string, args ...string) []byte {
		cmd := exec.Command(testutil.RequireTool(t, name), args...)
		cmd.Stdin = bytes.NewReader(plain)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"x.tar.gz", tool("gzip", "-c")},
		{"x.tar.xz", tool("xz", "-c")},
		{"x.tar.zst", tool("zstd", "-c", "-q")},
		{"x.tar.bz2", tool("bzip2", "-c")},
	} {
		rc, err := Decompress(tc.name, bytes.NewReader(tc.data))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%s: whole stream: error %v, equal %v", tc.name, err, bytes.Equal(got, plain))
		}
		for _, n := range []int{0, 1, len(tc.data) / 2, len(tc.data) - 1} {
			rc, err := Decompress(tc.name, bytes.NewReader(tc.data[:n]))
			if err == nil {
				_, err = io.ReadAll(rc)
				rc.Close()
			}
			if err == nil {
				t.Errorf("%s cut to %d of %d bytes: no error", tc.name, n, len(tc.data))
			}
		}
	}
}
