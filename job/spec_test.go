package job

import "testing"

// TestIsSpecFile: signing.yaml is known by its name, .yaml or .yml.
func TestIsSpecFile(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"debian/signing.yaml": true, "signing.yml": true,
		"fwupd-amd64-signed-template_1.4-1_amd64.deb": false, "code-signing/fwupd": false, "signing.yaml.deb": false,
	} {
		if got := IsSpecFile(name); got != want {
			t.Errorf("IsSpecFile(%q) = %v, want %v", name, got, want)
		}
	}
}
