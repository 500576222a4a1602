package queue

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckOutput(t *testing.T) {
	t.Parallel()
	tarData := []byte("not really xz, but checked only by its hash")
	sum := sha256.Sum256(tarData)
	dsc := fmt.Sprintf("Format: 3.0 (native)\nSource: x\nVersion: 1\nChecksums-Sha256:\n %x %d x_1.tar.xz\n", sum, len(tarData))
	// A clear-signed .dsc, as --upload-key writes it (the signature is
	// not checked), and the .changes listing it.
	signed := "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + dsc +
		"-----BEGIN PGP SIGNATURE-----\n\niHUEARYKAB0WIQQ=\n=AAAA\n-----END PGP SIGNATURE-----\n"
	dscSum := sha256.Sum256([]byte(signed))
	changesFor := func(lines ...string) string {
		return "Format: 1.8\nSource: x\nVersion: 1\nChecksums-Sha256:\n " + strings.Join(lines, "\n ") + "\n"
	}
	dscLine := fmt.Sprintf("%x %d x_1.dsc", dscSum, len(signed))
	tarLine := fmt.Sprintf("%x %d x_1.tar.xz", sum, len(tarData))
	changes := changesFor(dscLine, tarLine)
	for _, tc := range []struct {
		name    string
		files   map[string]string
		changes bool   // with --changes
		want    string // "" for no error
	}{
		{"with .changes", map[string]string{"x_1.dsc": signed, "x_1.tar.xz": string(tarData), "x_1_source.changes": changes}, true, ""},
		{".changes not asked for", map[string]string{"x_1.dsc": signed, "x_1.tar.xz": string(tarData), "x_1_source.changes": changes}, false, "holds x_1_source.changes, which x_1.dsc does not name"},
		{"no .changes", map[string]string{"x_1.dsc": signed, "x_1.tar.xz": string(tarData)}, true, "x_1_source.changes: no such file"},
		{".changes for the unsigned .dsc", map[string]string{"x_1.dsc": signed, "x_1.tar.xz": string(tarData),
			"x_1_source.changes": changesFor(fmt.Sprintf("%x %d x_1.dsc", sha256.Sum256([]byte(dsc)), len(dsc)), tarLine)}, true, "but x_1_source.changes says"},
		{".changes without the tarball", map[string]string{"x_1.dsc": signed, "x_1.tar.xz": string(tarData), "x_1_source.changes": changesFor(dscLine)}, true, "does not name x_1.tar.xz"},
		{".changes naming more", map[string]string{"x_1.dsc": signed, "x_1.tar.xz": string(tarData), "x_1.buildinfo": "",
			"x_1_source.changes": changesFor(dscLine, tarLine, fmt.Sprintf("%x 0 x_1.buildinfo", sha256.Sum256(nil)))}, true, "names x_1.buildinfo, which x_1.dsc does not"},
		{"complete", map[string]string{"x_1.dsc": dsc, "x_1.tar.xz": string(tarData)}, false, ""},
		{"no .dsc", map[string]string{"x_1.tar.xz": string(tarData)}, false, "no such file"},
		{"no tarball", map[string]string{"x_1.dsc": dsc}, false, "no such file"},
		{"short tarball", map[string]string{"x_1.dsc": dsc, "x_1.tar.xz": string(tarData[1:])}, false, "but x_1.dsc says"},
		{"other tarball", map[string]string{"x_1.dsc": dsc, "x_1.tar.xz": strings.ToUpper(string(tarData))}, false, "but x_1.dsc says"},
		{"a file more", map[string]string{"x_1.dsc": dsc, "x_1.tar.xz": string(tarData), "x_1.tar.xz.tmp": ""}, false, "holds x_1.tar.xz.tmp, which x_1.dsc does not name"},
		{"tarball elsewhere", map[string]string{"x_1.dsc": strings.Replace(dsc, " x_1.tar.xz", " ../x_1.tar.xz", 1)}, false, "not a file beside it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "x_1")
			os.Mkdir(out, 0o755)
			for name, data := range tc.files {
				os.WriteFile(filepath.Join(out, name), []byte(data), 0o644)
			}
			err := checkOutput(out, tc.changes)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}
