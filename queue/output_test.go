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
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string // "" for no error
	}{
		{"complete", map[string]string{"x_1.dsc": dsc, "x_1.tar.xz": string(tarData)}, ""},
		{"no .dsc", map[string]string{"x_1.tar.xz": string(tarData)}, "no such file"},
		{"no tarball", map[string]string{"x_1.dsc": dsc}, "no such file"},
		{"short tarball", map[string]string{"x_1.dsc": dsc, "x_1.tar.xz": string(tarData[1:])}, "but x_1.dsc says"},
		{"other tarball", map[string]string{"x_1.dsc": dsc, "x_1.tar.xz": strings.ToUpper(string(tarData))}, "but x_1.dsc says"},
		{"a file more", map[string]string{"x_1.dsc": dsc, "x_1.tar.xz": string(tarData), "x_1.tar.xz.tmp": ""}, "holds x_1.tar.xz.tmp, which x_1.dsc does not name"},
		{"tarball elsewhere", map[string]string{"x_1.dsc": strings.Replace(dsc, " x_1.tar.xz", " ../x_1.tar.xz", 1)}, "not a file beside it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "x_1")
			os.Mkdir(out, 0o755)
			for name, data := range tc.files {
				os.WriteFile(filepath.Join(out, name), []byte(data), 0o644)
			}
			err := checkOutput(out)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}
