package efi

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/mksigned/mksigned/internal/testutil"
)

// pair is an unsigned EFI binary from a Debian "-unsigned" package and the
// same binary as Debian's signing service signed it.
type pair struct {
	name         string
	unsignedDeb  string
	unsignedPath string
	signedDeb    string
	signedPath   string
	// digest is the Authenticode SHA-256 that osslsigncode verify shows as
	// "Calculated message digest" for both files, and that Debian's
	// signature holds.
	digest string
}

var pairs = []pair{
	{
		name:        "fwupdx64",
		unsignedDeb: "fwupd-unsigned_1.4-1_amd64.deb", unsignedPath: "./usr/libexec/fwupd/efi/fwupdx64.efi",
		signedDeb: "fwupd-amd64-signed_1.4+1_amd64.deb", signedPath: "./usr/libexec/fwupd/efi/fwupdx64.efi.signed",
		digest: "54563dba7fe706fab763168771637e02f82bf776e47fc16c96b87f3ecdb11958",
	},
	{
		name:        "fbx64",
		unsignedDeb: "shim-unsigned_16.1-2~deb12u1_amd64.deb", unsignedPath: "./usr/lib/shim/fbx64.efi",
		signedDeb: "shim-helpers-amd64-signed_1+16.1+2~deb12u1_amd64.deb", signedPath: "./usr/lib/shim/fbx64.efi.signed",
		digest: "f08e1ed5914bd0f4d1dd8731e53c8bc54ad0ce7daf49bfbea01d760b249b136f",
	},
	{
		name:        "mmx64",
		unsignedDeb: "shim-unsigned_16.1-2~deb12u1_amd64.deb", unsignedPath: "./usr/lib/shim/mmx64.efi",
		signedDeb: "shim-helpers-amd64-signed_1+16.1+2~deb12u1_amd64.deb", signedPath: "./usr/lib/shim/mmx64.efi.signed",
		digest: "0acfb229cd4f28f785811feed45dcea07d0bdaeb9e231793371c659980c0fe51",
	},
}

// fixtureCache holds the files read out of each .deb, so that every .deb
// is decompressed once per test binary.
var fixtureCache struct {
	sync.Mutex
	debs map[string]map[string][]byte
}

// fixture returns the file at path (as the data.tar names it, "./usr/…")
// in the committed Debian package deb.
func fixture(t testing.TB, deb, path string) []byte {
	t.Helper()
	fixtureCache.Lock()
	defer fixtureCache.Unlock()
	files, ok := fixtureCache.debs[deb]
	if !ok {
		var err error
		files, err = readDebEFI(testutil.DebianFixture(t, deb))
		if err != nil {
			t.Fatalf("reading fixture %s: %v", deb, err)
		}
		if fixtureCache.debs == nil {
			fixtureCache.debs = map[string]map[string][]byte{}
		}
		fixtureCache.debs[deb] = files
	}
	b, ok := files[path]
	if !ok {
		t.Fatalf("fixture %s has no %s", deb, path)
	}
	return b
}

// readDebEFI returns the regular files in a .deb's data.tar.xz whose names
// contain ".efi". It is the least a test needs: the real .deb reader lives
// in package deb and is tested there.
func readDebEFI(name string) (map[string][]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	const magic, headerSize = "!<arch>\n", 60
	if !bytes.HasPrefix(b, []byte(magic)) {
		return nil, errors.New("no ar magic")
	}
	var data []byte
	for off := len(magic); off+headerSize <= len(b); {
		h := b[off : off+headerSize]
		size, err := strconv.Atoi(strings.TrimSpace(string(h[48:58])))
		if err != nil || size < 0 || size > len(b)-off-headerSize {
			return nil, fmt.Errorf("ar header at %d: bad size %q", off, h[48:58])
		}
		if strings.TrimRight(string(h[:16]), " /") == "data.tar.xz" {
			data = b[off+headerSize : off+headerSize+size]
			break
		}
		off += headerSize + size + size%2
	}
	if data == nil {
		return nil, errors.New("no data.tar.xz member")
	}
	zr, err := xz.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg || !strings.Contains(h.Name, ".efi") {
			continue
		}
		if files[h.Name], err = io.ReadAll(tr); err != nil {
			return nil, err
		}
	}
}

// writeFile writes b to name in dir and returns the path.
func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readFile returns the contents of path.
func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
