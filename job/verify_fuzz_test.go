package job

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/testutil"
	"github.com/mksigned/mksigned/sign"
)

// sourceFixture generates the source package of three signed modules
// and returns its .dsc and .tar.xz with their names.
func sourceFixture(t testing.TB) (dsc, tarxz []byte, dscName, tarName string) {
	t.Helper()
	files, listed := testModules(t, 3)
	key := testutil.NewKey(t, 0)
	out := filepath.Join(t.TempDir(), "out")
	r, err := Generate(context.Background(), GenerateOptions{
		Template: writeTestTemplate(t, "debhelper-compat (= 13)", listed...),
		Unsigned: []string{writeTestDeb(t, files...)},
		Key:      &sign.Key{Signer: key.Signer, Cert: key.Cert},
		Output:   out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if dsc, err = os.ReadFile(filepath.Join(out, r.DSC)); err != nil {
		t.Fatal(err)
	}
	if tarxz, err = os.ReadFile(filepath.Join(out, r.Tar)); err != nil {
		t.Fatal(err)
	}
	return dsc, tarxz, r.DSC, r.Tar
}

// sigsOf is what readSourceSignatures should find in an uncompressed
// tarball, worked out with archive/tar: the regular files
// <top>/debian/signatures/<package>/<path>.sig, sorted.
func sigsOf(t testing.TB, plain []byte) []sourceSig {
	t.Helper()
	var sigs []sourceSig
	tr := tar.NewReader(bytes.NewReader(plain))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("readSourceSignatures accepted a tarball archive/tar refuses: %v", err)
		}
		_, rest, _ := strings.Cut(path.Clean(hdr.Name), "/")
		rel, ok := strings.CutPrefix(rest, "debian/signatures/")
		if !ok || !strings.HasSuffix(rel, ".sig") || (hdr.Typeflag != tar.TypeReg && hdr.Typeflag != '\x00') {
			continue
		}
		pkg, file, ok := strings.Cut(strings.TrimSuffix(rel, ".sig"), "/")
		if !ok || file == "" {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("readSourceSignatures accepted a tarball archive/tar cannot read: %v", err)
		}
		sigs = append(sigs, sourceSig{pkg: pkg, path: file, sig: b})
	}
	sort.SliceStable(sigs, func(i, j int) bool {
		if sigs[i].pkg != sigs[j].pkg {
			return sigs[i].pkg < sigs[j].pkg
		}
		return sigs[i].path < sigs[j].path
	})
	return sigs
}

// checkSigs fails unless got, from readSourceSignatures, is want.
func checkSigs(t testing.TB, got, want []sourceSig) {
	t.Helper()
	eq := func(a, b sourceSig) bool { return a.pkg == b.pkg && a.path == b.path && bytes.Equal(a.sig, b.sig) }
	if !slices.EqualFunc(got, want, eq) {
		t.Fatalf("readSourceSignatures found %d signatures, want %d; or their paths or bytes differ:\ngot  %q\nwant %q", len(got), len(want), got, want)
	}
	for _, s := range got {
		if !filepath.IsLocal(s.path) || s.pkg == "" {
			t.Fatalf("signature of package %q for unsafe path %q", s.pkg, s.path)
		}
	}
}

// FuzzReadDsc reads arbitrary bytes as the .dsc of verify --dsc, beside a
// real tarball: no panic, and an error is an *inputerr.Error or says the
// tarball it names does not exist; when it succeeds, the .dsc gave the
// real tarball's sha256 and size, and the signatures are its three.
func FuzzReadDsc(f *testing.F) {
	dsc, tarxz, _, tarName := sourceFixture(f)
	f.Add(dsc)
	f.Add(bytes.ReplaceAll(dsc, []byte(".tar.xz"), []byte(".tar")))
	f.Add([]byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + string(dsc) + "-----BEGIN PGP SIGNATURE-----\n\nx\n-----END PGP SIGNATURE-----\n"))
	f.Add([]byte("Format: 3.0 (native)\nChecksums-Sha256:\n 00 1 ../x.tar\n"))
	sum := sha256.Sum256(tarxz)
	realSum, realSize := hex.EncodeToString(sum[:]), strconv.Itoa(len(tarxz))
	f.Add([]byte("Format: 3.0 (native)\nChecksums-Sha256:\n " + strings.Repeat("0", 64) + " " + realSize + " " + tarName + "\n"))
	f.Add([]byte("Format: 3.0 (native)\nChecksums-Sha256:\n " + realSum + " " + strconv.Itoa(len(tarxz)+1) + " " + tarName + "\n"))
	plain, err := readAllDecompressed(tarName, tarxz)
	if err != nil {
		f.Fatal(err)
	}
	want := sigsOf(f, plain)
	if len(want) != 3 {
		f.Fatalf("the fixture's tarball holds %d signatures, want 3", len(want))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "fuzz.dsc")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, tarName), tarxz, 0o644); err != nil {
			t.Fatal(err)
		}
		sigs, err := readSourceSignatures(context.Background(), p)
		if err != nil {
			var ie *inputerr.Error
			if !errors.As(err, &ie) && !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("error %q (%T) is neither an *inputerr.Error nor a missing tarball", err, err)
			}
			return
		}
		if !bytes.Contains(data, []byte(realSum)) || !bytes.Contains(data, []byte(realSize)) {
			t.Fatalf("read the tarball though the .dsc does not give its sha256 %s and size %s", realSum, realSize)
		}
		checkSigs(t, sigs, want)
	})
}

// tarSuffixes are the compressions FuzzReadSourceTarball gives its
// tarball, chosen by an input byte.
var tarSuffixes = []string{".tar", ".tar.xz", ".tar.gz", ".tar.zst", ".tar.bz2"}

// FuzzReadSourceTarball reads arbitrary bytes as the tarball of a .dsc
// that gives its right sha256 and size: no panic, every error an
// *inputerr.Error naming the tarball, and on success the signatures
// archive/tar finds in the decompressed stream.
func FuzzReadSourceTarball(f *testing.F) {
	_, tarxz, _, tarName := sourceFixture(f)
	plain, err := readAllDecompressed(tarName, tarxz)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tarxz, uint8(1))
	f.Add(plain, uint8(0))
	for _, entries := range [][]tar.Header{
		{{Name: "p/debian/signatures/pkg/a.efi.sig", Size: 3}, {Name: "p/debian/signatures/pkg/a.efi.sig", Size: 3}},
		{{Name: "p/debian/signatures/pkg/lib/m.ko.sig", Typeflag: tar.TypeSymlink, Linkname: "/etc/shadow"}},
		{{Name: "p/debian/signatures/pkg.sig", Size: 3}, {Name: "./p/debian/signatures/x/./y.sig", Size: 3}},
		{{Name: "../debian/signatures/pkg/a.sig", Size: 3}},
	} {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, h := range entries {
			if h.Typeflag == 0 {
				h.Typeflag = tar.TypeReg
			}
			h.Mode = 0o644
			tw.WriteHeader(&h)
			tw.Write(make([]byte, h.Size))
		}
		tw.Close()
		f.Add(b.Bytes(), uint8(0))
	}
	f.Fuzz(func(t *testing.T, tarball []byte, kind uint8) {
		name := "pool-signed_1.0+1" + tarSuffixes[int(kind)%len(tarSuffixes)]
		sum := sha256.Sum256(tarball)
		dsc := fmt.Sprintf("Format: 3.0 (native)\nSource: pool-signed\nVersion: 1.0+1\nChecksums-Sha256:\n %s %d %s\n",
			hex.EncodeToString(sum[:]), len(tarball), name)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "pool-signed_1.0+1.dsc"), []byte(dsc), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), tarball, 0o644); err != nil {
			t.Fatal(err)
		}
		sigs, err := readSourceSignatures(context.Background(), filepath.Join(dir, "pool-signed_1.0+1.dsc"))
		if err != nil {
			var ie *inputerr.Error
			if !errors.As(err, &ie) || ie.File != name {
				t.Fatalf("error %q (%T) is not an *inputerr.Error for %s", err, err, name)
			}
			return
		}
		plain, err := readAllDecompressed(name, tarball)
		if err != nil {
			t.Fatalf("readSourceSignatures accepted a tarball that does not decompress: %v", err)
		}
		checkSigs(t, sigs, sigsOf(t, plain))
	})
}

// readAllDecompressed decompresses a tarball as its name says.
func readAllDecompressed(name string, data []byte) ([]byte, error) {
	rc, err := deb.Decompress(name, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
