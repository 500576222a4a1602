package tests

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
)

// TestFIFOInputs gives a FIFO (with no writer) wherever a command reads a
// file, or the --signatures directory: each run must fail at once, exit
// 1, naming the FIFO. open(2) on a FIFO waits for a writer, and no signal
// handler runs meanwhile: the runs hung, and SIGTERM could not stop them.
func TestFIFOInputs(t *testing.T) {
	tmpl := testutil.DebianFixture(t, fwupdTemplate)
	unsigned := testutil.DebianFixture(t, fwupdUnsigned)
	key := testutil.NewKey(t, 2048)
	fifo := filepath.Join(t.TempDir(), "input.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	// A source package to verify; and its .dsc again, beside a FIFO in
	// place of its tarball.
	out := filepath.Join(t.TempDir(), "out")
	mustMksigned(t, "", nil, "generate", "--template", tmpl, "--unsigned", unsigned,
		"--key", key.KeyPath, "--cert", key.CertPath, "--output", out)
	dsc := onlyFile(t, out, ".dsc")
	tarName := filepath.Base(onlyFile(t, out, ".tar.xz"))
	fifoTarDir := t.TempDir()
	b, err := os.ReadFile(dsc)
	if err != nil {
		t.Fatal(err)
	}
	fifoTarDSC := filepath.Join(fifoTarDir, filepath.Base(dsc))
	writeFile(t, fifoTarDSC, b, 0o644)
	fifoTar := filepath.Join(fifoTarDir, tarName)
	if err := syscall.Mkfifo(fifoTar, 0o644); err != nil {
		t.Fatal(err)
	}
	efiFile := filepath.Join(t.TempDir(), "fwupdx64.efi")
	writeFile(t, efiFile, unsignedEFI(t), 0o644)
	o := filepath.Join(t.TempDir(), "o")

	for _, c := range []struct {
		name string
		args []string
		fifo string // the path the error must name
	}{
		{"generate --template", []string{"generate", "--dry-run", "--template", fifo, "--unsigned", unsigned}, fifo},
		{"generate --unsigned", []string{"generate", "--dry-run", "--template", tmpl, "--unsigned", fifo}, fifo},
		{"generate --key", []string{"generate", "--template", tmpl, "--unsigned", unsigned, "--key", fifo, "--cert", key.CertPath, "--output", o}, fifo},
		{"generate --cert", []string{"generate", "--template", tmpl, "--unsigned", unsigned, "--key", key.KeyPath, "--cert", fifo, "--output", o}, fifo},
		{"generate --signatures", []string{"generate", "--template", tmpl, "--unsigned", unsigned, "--signatures", fifo, "--output", o}, fifo},
		{"verify --dsc", []string{"verify", "--dsc", fifo, "--unsigned", unsigned}, fifo},
		{"verify, the .dsc's tarball", []string{"verify", "--dsc", fifoTarDSC, "--unsigned", unsigned}, fifoTar},
		{"verify --unsigned", []string{"verify", "--dsc", dsc, "--unsigned", fifo}, fifo},
		{"verify --signed", []string{"verify", "--dsc", dsc, "--unsigned", unsigned, "--signed", fifo}, fifo},
		{"verify --cert", []string{"verify", "--dsc", dsc, "--unsigned", unsigned, "--cert", fifo}, fifo},
		{"attach --signature", []string{"attach", "--type", "efi", "--signature", fifo, "--output", o, efiFile}, fifo},
		{"attach FILE", []string{"attach", "--type", "efi", "--signature", efiFile, "--output", o, fifo}, fifo},
		{"detach SIGNED", []string{"detach", "--type", "efi", "--output", o, fifo}, fifo},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, took, _ := runLimited(t, 10*time.Second, nil, c.args...)
			if r.code != 1 || !strings.Contains(r.stderr, c.fifo) || !strings.Contains(r.stderr, "a named pipe (FIFO)") {
				t.Errorf("exit %d after %v, stderr %q; want exit 1 naming %s as a named pipe", r.code, took, r.stderr, c.fifo)
			}
			notExist(t, o)
		})
	}
}
