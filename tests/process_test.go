package tests

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// The queue's end-to-end tests: mksigned process on the real fwupd and
// shim-helpers templates, plus fwupd templates rebuilt under new
// versions with dpkg-deb -b.

const fwupdChangelog = fwupdCodeDir + "/source-template/debian/changelog"

// processSummary is what process --json prints after each pass.
type processSummary struct {
	Processed, Skipped, Waiting, Failed []processItem
}

type processItem struct {
	File, Template, Version, SHA256, Output, Reason string
	Missing                                         []string
	Attempts                                        int
	Resumed                                         bool
}

// processRig is an incoming directory, output, state and key.
type processRig struct {
	dir, in, out, state, audit, key, cert string
	outputs                               []string // every output the incoming directory makes
}

// newProcessRig fills an incoming directory with the fwupd and shim
// templates and their unsigned packages, and variants fwupd templates
// (versions 1:1.4+1+q1 ...) that fwupd-unsigned serves too.
func newProcessRig(t *testing.T, variants int) *processRig {
	t.Helper()
	key, cert := newKey(t, "2048")
	dir := t.TempDir()
	r := &processRig{dir: dir, in: filepath.Join(dir, "in"), out: filepath.Join(dir, "out"),
		state: filepath.Join(dir, "state"), audit: filepath.Join(dir, "audit.log"), key: key, cert: cert,
		outputs: []string{"fwupd-amd64-signed_1.4+1", "shim-helpers-amd64-signed_1+16.1+2~deb12u1"}}
	for _, f := range []string{fwupdTemplate, fwupdUnsigned, shimTemplate, shimUnsigned} {
		copyFile(t, testutil.DebianFixture(t, f), filepath.Join(r.in, f))
	}
	for k := 1; k <= variants; k++ {
		fwupdVariant(t, filepath.Join(r.in, fmt.Sprintf("fwupd-amd64-signed-template_1.4-1+q%d_amd64.deb", k)), fmt.Sprintf("+q%d", k), "")
		r.outputs = append(r.outputs, fmt.Sprintf("fwupd-amd64-signed_1.4+1+q%d", k))
	}
	sort.Strings(r.outputs)
	return r
}

// args are process's arguments for the rig, then more.
func (r *processRig) args(more ...string) []string {
	return append([]string{"process", "--incoming", r.in, "--output", r.out, "--state", r.state,
		"--key", r.key, "--cert", r.cert, "--audit-log", r.audit}, more...)
}

func (r *processRig) once(t *testing.T) (processSummary, result) {
	t.Helper()
	res := mksigned(t, r.dir, nil, r.args("--once", "--json")...)
	var s processSummary
	if err := json.Unmarshal([]byte(res.stdout), &s); err != nil {
		t.Fatalf("process --once --json: exit %d, stdout not a summary: %v\n%s\nstderr:\n%s", res.code, err, res.stdout, res.stderr)
	}
	return s, res
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, b, 0o644)
}

// rebuildDeb unpacks src with dpkg-deb -R, lets edit change the tree,
// and builds dst from it.
func rebuildDeb(t *testing.T, src, dst string, edit func(root string)) {
	t.Helper()
	testutil.RequireTool(t, "dpkg-deb")
	root := filepath.Join(t.TempDir(), "root")
	testutil.Run(t, "", "dpkg-deb", "-R", src, root)
	edit(root)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, "", "dpkg-deb", "--root-owner-group", "-Zgzip", "-b", root, dst)
}

// replaceIn replaces old by new once in a file, which must hold it.
func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not hold %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fwupdVariant writes the fwupd template with its package version and
// its changelog's (so its source package's) version suffixed; a
// suffix "" with touch set rebuilds it at the same versions with other
// bytes.
func fwupdVariant(t *testing.T, dst, suffix, touch string) {
	t.Helper()
	rebuildDeb(t, testutil.DebianFixture(t, fwupdTemplate), dst, func(root string) {
		if suffix != "" {
			replaceIn(t, filepath.Join(root, "DEBIAN/control"), "Version: 1:1.4-1", "Version: 1:1.4-1"+suffix)
			replaceIn(t, filepath.Join(root, fwupdChangelog), "(1:1.4+1)", "(1:1.4+1"+suffix+")")
		}
		if touch != "" {
			replaceIn(t, filepath.Join(root, fwupdChangelog), "  * Update", "  * "+touch+"\n  * Update")
		}
	})
}

// checkOutputs checks that out holds exactly the outputs named, each
// exactly its .dsc and .tar.xz, the tarball as the .dsc's
// Checksums-Sha256 says: no partial output, no temporary directory.
func checkOutputs(t *testing.T, out string, want []string) {
	t.Helper()
	got := []string{}
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s holds %q, want %q", out, got, want)
	}
	for _, name := range want {
		files := testutil.ListDir(t, filepath.Join(out, name))
		if wantFiles := []string{name + ".dsc", name + ".tar.xz"}; strings.Join(files, " ") != strings.Join(wantFiles, " ") {
			t.Errorf("%s holds %q, want %q", name, files, wantFiles)
			continue
		}
		dsc, err := os.ReadFile(filepath.Join(out, name, name+".dsc"))
		if err != nil {
			t.Fatal(err)
		}
		_, sums, _ := strings.Cut(string(dsc), "Checksums-Sha256:\n ")
		f := strings.Fields(sums)
		tarData, err := os.ReadFile(filepath.Join(out, name, name+".tar.xz"))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(tarData)
		if len(f) < 3 || f[0] != hex.EncodeToString(sum[:]) || f[1] != fmt.Sprint(len(tarData)) || f[2] != name+".tar.xz" {
			t.Errorf("%s: .dsc's Checksums-Sha256 %q do not match the tarball (%x, %d bytes)", name, f[:min(3, len(f))], sum, len(tarData))
		}
	}
}

// processStatus is process --status --json.
type processStatus struct {
	Done, Failed, Claimed []struct {
		Template, Version, SHA256, Output, State, Reason string
		Attempts                                         int
		Held                                             bool
	}
}

func (r *processRig) status(t *testing.T) processStatus {
	t.Helper()
	out := mustMksigned(t, r.dir, nil, "process", "--status", "--state", r.state, "--json")
	var s processStatus
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("process --status --json: %v\n%s", err, out)
	}
	return s
}

// auditEntries reads the audit log: the requester of each entry by
// template version, and every signature's SHA-256.
func auditEntries(t *testing.T, log string) (requesters map[string][]string, sigs map[string]bool) {
	t.Helper()
	mustMksigned(t, "", nil, "audit", "verify", log)
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	requesters, sigs = map[string][]string{}, map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var e struct {
			TemplateVersion string `json:"template_version"`
			Requester       string
			SignatureSHA256 string `json:"signature_sha256"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		requesters[e.TemplateVersion] = append(requesters[e.TemplateVersion], e.Requester)
		sigs[e.SignatureSHA256] = true
	}
	return requesters, sigs
}

// committedSignatures returns the SHA-256 of every signature in the
// outputs' tarballs.
func committedSignatures(t *testing.T, out string, outputs []string) []string {
	t.Helper()
	testutil.RequireTool(t, "tar")
	var sums []string
	for _, name := range outputs {
		dir := t.TempDir()
		testutil.Run(t, dir, "tar", "-xJf", filepath.Join(out, name, name+".tar.xz"))
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".sig") {
				b, _ := os.ReadFile(p)
				s := sha256.Sum256(b)
				sums = append(sums, hex.EncodeToString(s[:]))
			}
			return err
		})
	}
	return sums
}

func TestProcessOnce(t *testing.T) {
	t.Parallel()
	forStates(t, testProcessOnce)
}

func testProcessOnce(t *testing.T, b stateBackend) {
	r := newProcessRig(t, 1)
	r.state = b.state(t, r.dir)
	writeFile(t, filepath.Join(r.in, "junk.deb"), []byte("not a package\n"), 0o644)
	writeFile(t, filepath.Join(r.in, "README"), []byte("ignored: not *.deb\n"), 0o644)
	writeFile(t, filepath.Join(r.in, "late.deb.part"), []byte("ignored: still being uploaded\n"), 0o644)
	s, res := r.once(t)
	if res.code != 1 {
		t.Errorf("exit %d, want 1 (junk.deb failed)\n%s", res.code, res.stderr)
	}
	if len(s.Processed) != 3 || len(s.Skipped) != 0 || len(s.Waiting) != 0 || len(s.Failed) != 1 {
		t.Fatalf("first pass: got %+v, want 3 processed and junk.deb failed", s)
	}
	if f := s.Failed[0]; f.File != "junk.deb" || !strings.Contains(f.Reason, "junk.deb: offset 0x0: not a Debian package") {
		t.Errorf("failed: got %+v, want junk.deb, not a Debian package", f)
	}
	checkOutputs(t, r.out, r.outputs)
	before := tree(t, r.out)

	// A rerun does nothing new: everything skipped as done.
	os.Remove(filepath.Join(r.in, "junk.deb"))
	s, res = r.once(t)
	if res.code != 0 || len(s.Processed) != 0 || len(s.Skipped) != 3 || len(s.Failed) != 0 {
		t.Fatalf("rerun: exit %d, %+v; want 3 skipped\n%s", res.code, s, res.stderr)
	}
	for _, it := range s.Skipped {
		if it.Reason != "done" || it.Attempts != 1 {
			t.Errorf("skipped %+v, want done after 1 attempt", it)
		}
	}
	if d := cmpTrees(before, tree(t, r.out)); d != "" {
		t.Errorf("the rerun changed the output:\n%s", d)
	}
	st := r.status(t)
	if len(st.Done) != 3 || len(st.Failed) != 0 || len(st.Claimed) != 0 {
		t.Errorf("status: got %+v, want 3 done", st)
	}
	text := mustMksigned(t, r.dir, nil, "process", "--status", "--state", r.state)
	if !strings.Contains(text, "done      fwupd-amd64-signed-template 1:1.4-1 -> fwupd-amd64-signed_1.4+1\n") ||
		!strings.Contains(text, "3 done, 0 failed, 0 claimed, 0 waiting at the last pass\n") {
		t.Errorf("status text:\n%s", text)
	}
	// dpkg-source takes the output as it takes generate's.
	testutil.RequireTool(t, "dpkg-source")
	testutil.Run(t, t.TempDir(), "dpkg-source", "-x", filepath.Join(r.out, r.outputs[0], r.outputs[0]+".dsc"))
}

func cmpTrees(a, b map[string]fileState) string {
	var d []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			d = append(d, "changed or removed: "+k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			d = append(d, "added: "+k)
		}
	}
	sort.Strings(d)
	return strings.Join(d, "\n")
}

// A template waits for its packages, naming those missing and the
// versions of them that are there but do not fit; once they come, it is
// processed.
func TestProcessWaiting(t *testing.T) {
	t.Parallel()
	r := newProcessRig(t, 0)
	os.Remove(filepath.Join(r.in, fwupdUnsigned))
	// Only regular files are read: a symlink to the package (outside)
	// and a FIFO named *.deb are not packages of the incoming directory.
	if err := os.Rename(filepath.Join(r.in, shimUnsigned), filepath.Join(r.dir, shimUnsigned)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(r.dir, shimUnsigned), filepath.Join(r.in, shimUnsigned)); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(r.in, "x.deb"), 0o644); err != nil {
		t.Fatal(err)
	}
	rebuildDeb(t, testutil.DebianFixture(t, fwupdUnsigned), filepath.Join(r.in, "fwupd-unsigned_1.4-3_amd64.deb"), func(root string) {
		replaceIn(t, filepath.Join(root, "DEBIAN/control"), "Version: 1:1.4-1", "Version: 1:1.4-3")
	})
	rebuildDeb(t, testutil.DebianFixture(t, fwupdUnsigned), filepath.Join(r.in, "fwupd-unsigned_1.4-1_arm64.deb"), func(root string) {
		replaceIn(t, filepath.Join(root, "DEBIAN/control"), "Architecture: amd64", "Architecture: arm64")
	})
	s, res := r.once(t)
	if res.code != 0 || len(s.Waiting) != 2 || len(s.Processed) != 0 {
		t.Fatalf("exit %d, %+v; want both waiting\n%s", res.code, s, res.stderr)
	}
	want := map[string]string{
		"fwupd-amd64-signed-template": "fwupd-unsigned 1:1.4-1 (fwupd-unsigned_1.4-1_arm64.deb): built for arm64, but the signed source package builds for amd64 only: its Build-Depends pin the packages of those" +
			"\n" + `fwupd-unsigned 1:1.4-3 (fwupd-unsigned_1.4-3_amd64.deb): fwupd-unsigned 1:1.4-3 does not satisfy "fwupd-unsigned (<< 1:1.4-2) [amd64]": the signed package would not build against it`,
		"shim-helpers-amd64-signed-template": "shim-unsigned: not in the incoming directory",
	}
	for _, w := range s.Waiting {
		if strings.Join(w.Missing, "\n") != want[w.Template] {
			t.Errorf("waiting %s: missing %q, want %q", w.Template, w.Missing, want[w.Template])
		}
	}
	notExist(t, filepath.Join(r.out, r.outputs[0]))
	text := mustMksigned(t, r.dir, nil, "process", "--status", "--state", r.state)
	if !strings.Contains(text, "shim-unsigned: not in the incoming directory") {
		t.Errorf("status does not show what is waiting:\n%s", text)
	}
	copyFile(t, testutil.DebianFixture(t, fwupdUnsigned), filepath.Join(r.in, fwupdUnsigned))
	os.Remove(filepath.Join(r.in, shimUnsigned)) // the symlink
	copyFile(t, testutil.DebianFixture(t, shimUnsigned), filepath.Join(r.in, shimUnsigned))
	s, res = r.once(t)
	if res.code != 0 || len(s.Processed) != 2 || len(s.Waiting) != 0 {
		t.Fatalf("with the packages: exit %d, %+v; want 2 processed\n%s", res.code, s, res.stderr)
	}
	checkOutputs(t, r.out, r.outputs)
}

// fwupdDone is a rig whose fwupd template has been processed, and whose
// incoming directory has no shim template.
func fwupdDone(t *testing.T) *processRig {
	t.Helper()
	r := newProcessRig(t, 0)
	os.Remove(filepath.Join(r.in, shimTemplate))
	if s, res := r.once(t); res.code != 0 || len(s.Processed) != 1 {
		t.Fatalf("exit %d, %+v\n%s", res.code, s, res.stderr)
	}
	return r
}

// The same template name and version with other bytes is refused and
// recorded, and the first stands; an output directory that is there
// already is never written into.
func TestProcessConflicts(t *testing.T) {
	t.Parallel()
	r := fwupdDone(t)
	before := tree(t, r.out)
	fwupdVariant(t, filepath.Join(r.in, "fwupd-amd64-signed-template_1.4-1_amd64.rebuilt.deb"), "", "Rebuilt with other bytes.")
	// Not written by the queue: left alone, and the job fails.
	writeFile(t, filepath.Join(r.out, "shim-helpers-amd64-signed_1+16.1+2~deb12u1/keep"), []byte("mine\n"), 0o644)
	copyFile(t, testutil.DebianFixture(t, shimTemplate), filepath.Join(r.in, shimTemplate))
	s, res := r.once(t)
	if res.code != 1 || len(s.Failed) != 2 || len(s.Skipped) != 1 {
		t.Fatalf("exit %d, %+v; want the rebuilt template and shim failed\n%s", res.code, s, res.stderr)
	}
	reasons := map[string]string{}
	for _, f := range s.Failed {
		reasons[f.File] = f.Reason
	}
	if got := reasons["fwupd-amd64-signed-template_1.4-1_amd64.rebuilt.deb"]; !strings.Contains(got, "fwupd-amd64-signed-template 1:1.4-1 was seen before with other bytes") {
		t.Errorf("rebuilt template: got %q", got)
	}
	if got := reasons[shimTemplate]; !strings.Contains(got, "exists already, and this job has not written it") {
		t.Errorf("shim: got %q", got)
	}
	after := tree(t, r.out)
	delete(after, "shim-helpers-amd64-signed_1+16.1+2~deb12u1")
	delete(after, "shim-helpers-amd64-signed_1+16.1+2~deb12u1/keep")
	if d := cmpTrees(before, after); d != "" {
		t.Errorf("the conflicts changed the output:\n%s", d)
	}
	if b, _ := os.ReadFile(filepath.Join(r.out, "shim-helpers-amd64-signed_1+16.1+2~deb12u1/keep")); string(b) != "mine\n" {
		t.Errorf("the existing output was changed")
	}
	// Recorded: the next pass says the same without trying again.
	s, _ = r.once(t)
	if len(s.Failed) != 2 {
		t.Errorf("next pass: got %+v, want the 2 failures again", s)
	}
}

// A corrupt state record, or a state of a newer format, is a clear error;
// nothing is signed twice, and the record is left as it was.
func TestProcessBadState(t *testing.T) {
	t.Parallel()
	r := newProcessRig(t, 0)
	if s, res := r.once(t); res.code != 0 || len(s.Processed) != 2 {
		t.Fatalf("exit %d, %+v\n%s", res.code, s, res.stderr)
	}
	records, _ := filepath.Glob(filepath.Join(r.state, "jobs", "fwupd-*", "*.json"))
	if len(records) != 1 {
		t.Fatalf("fwupd's records: %q", records)
	}
	b, _ := os.ReadFile(records[0])
	os.WriteFile(records[0], b[:len(b)/2], 0o600)
	s, res := r.once(t)
	if res.code != 1 || len(s.Failed) != 1 || len(s.Skipped) != 1 || len(s.Processed) != 0 {
		t.Fatalf("truncated record: exit %d, %+v; want fwupd failed, shim skipped\n%s", res.code, s, res.stderr)
	}
	if !strings.Contains(s.Failed[0].Reason, records[0]+": corrupt state record") {
		t.Errorf("truncated record: got %q", s.Failed[0].Reason)
	}
	if after, _ := os.ReadFile(records[0]); string(after) != string(b[:len(b)/2]) {
		t.Errorf("the corrupt record was changed")
	}
	requesters, _ := auditEntries(t, r.audit)
	if n := len(requesters["1:1.4-1"]); n != 1 {
		t.Errorf("fwupd was signed %d times, want once", n)
	}
	res = mksigned(t, r.dir, nil, "process", "--status", "--state", r.state)
	if res.code != 1 || !strings.Contains(res.stderr, "corrupt state record") {
		t.Errorf("status of a corrupt state: exit %d, stderr %q", res.code, res.stderr)
	}

	writeFile(t, filepath.Join(r.state, "format"), []byte("2\n"), 0o600)
	os.RemoveAll(r.out)
	res = mksigned(t, r.dir, nil, r.args("--once")...)
	if res.code != 1 || !strings.Contains(res.stderr, "format 2, and this mksigned reads format 1: use a newer mksigned") {
		t.Errorf("newer format: exit %d, stderr %q", res.code, res.stderr)
	}
	notExist(t, r.out)
}

// The three things a run killed while holding a job can leave, made by
// hand: its output committed but the record not yet done (found complete
// and recorded done, nothing signed); its temporary directory and no
// output (removed, and the job redone, the audit log showing the new
// attempt); a damaged output (failed, left as it is).
func TestProcessResume(t *testing.T) {
	t.Parallel()
	r := fwupdDone(t)
	out := filepath.Join(r.out, r.outputs[0])
	records, _ := filepath.Glob(filepath.Join(r.state, "jobs", "fwupd-*", "*.json"))
	if len(records) != 1 {
		t.Fatalf("fwupd's records: %q", records)
	}
	dead := func() { // as a run killed after the Claim leaves the record
		t.Helper()
		replaceIn(t, records[0], `"state": "done"`, `"state": "claimed"`)
	}
	auditLines := func() int {
		b, _ := os.ReadFile(r.audit)
		return bytes.Count(b, []byte("\n"))
	}
	want := tree(t, r.out)
	signed := auditLines()

	dead()
	s, res := r.once(t)
	if res.code != 0 || len(s.Processed) != 1 || !s.Processed[0].Resumed || s.Processed[0].Attempts != 2 {
		t.Fatalf("committed, not recorded: exit %d, %+v; want processed, resumed, attempt 2\n%s", res.code, s, res.stderr)
	}
	if n := auditLines(); n != signed {
		t.Errorf("committed, not recorded: the audit log went from %d to %d lines, want nothing signed", signed, n)
	}

	dead()
	os.RemoveAll(out)
	writeFile(t, filepath.Join(r.out, "."+r.outputs[0]+".pkggen-0123456789ab", r.outputs[0]+".tar.xz"), []byte("half"), 0o644)
	s, res = r.once(t)
	if res.code != 0 || len(s.Processed) != 1 || s.Processed[0].Resumed || s.Processed[0].Attempts != 3 {
		t.Fatalf("not committed: exit %d, %+v; want processed again, attempt 3\n%s", res.code, s, res.stderr)
	}
	if d := cmpTrees(want, tree(t, r.out)); d != "" {
		t.Errorf("the redone output differs (or the dead run's temporary directory is left):\n%s", d)
	}
	requesters, _ := auditEntries(t, r.audit)
	if reqs := requesters["1:1.4-1"]; len(reqs) != 2 || !strings.HasSuffix(reqs[1], ", attempt 3)") {
		t.Errorf("audit requesters %q, want attempts 1 and 3", reqs)
	}

	dead()
	tarPath := filepath.Join(out, r.outputs[0]+".tar.xz")
	b, _ := os.ReadFile(tarPath)
	os.WriteFile(tarPath, b[:len(b)-1], 0o644)
	s, res = r.once(t)
	if res.code != 1 || len(s.Failed) != 1 || !strings.Contains(s.Failed[0].Reason, "left by a run that died") ||
		!strings.Contains(s.Failed[0].Reason, fmt.Sprintf("size %d, but", len(b)-1)) {
		t.Fatalf("damaged output: exit %d, %+v; want failed naming the size", res.code, s)
	}
	if after, _ := os.ReadFile(tarPath); len(after) != len(b)-1 {
		t.Errorf("the damaged output was changed")
	}
}

// A disk full while the output is written (a tmpfs of one page) fails the
// job, recorded, with nothing left on the disk; once there is room,
// --retry-failed does it.
func TestProcessDiskFull(t *testing.T) {
	t.Parallel()
	r := newProcessRig(t, 0)
	os.Remove(filepath.Join(r.in, shimTemplate))
	os.Mkdir(r.out, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", r.out).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", r.out).Run() })
	s, res := r.once(t)
	if res.code != 1 || len(s.Failed) != 1 || !strings.Contains(s.Failed[0].Reason, "no space left on device") {
		t.Fatalf("disk full: exit %d, %+v; want failed, no space left\n%s", res.code, s, res.stderr)
	}
	if got := testutil.ListDir(t, r.out); len(got) != 0 {
		t.Errorf("disk full: the output holds %q, want nothing", got)
	}
	if s, _ := r.once(t); len(s.Failed) != 1 || len(s.Processed) != 0 {
		t.Errorf("next pass: %+v, want the failure recorded, not retried", s)
	}
	testutil.Run(t, "", "mount", "-o", "remount,size=1m", r.out)
	s = mustProcess(t, r, "--retry-failed")
	if len(s.Processed) != 1 || s.Processed[0].Attempts != 2 {
		t.Fatalf("with room and --retry-failed: %+v, want processed at attempt 2", s)
	}
	checkOutputs(t, r.out, r.outputs[:1])
}

// mustProcess runs process --once --json with more arguments and fails
// the test unless it exits 0.
func mustProcess(t *testing.T, r *processRig, more ...string) processSummary {
	t.Helper()
	res := mksigned(t, r.dir, nil, r.args(append([]string{"--once", "--json"}, more...)...)...)
	var s processSummary
	if err := json.Unmarshal([]byte(res.stdout), &s); err != nil || res.code != 0 {
		t.Fatalf("process: exit %d, %v\n%s\nstderr:\n%s", res.code, err, res.stdout, res.stderr)
	}
	return s
}

// --sign-with hands the signing to a command, as to sign-request on a
// signing host: the output is byte for byte --key's, the signing host's
// audit log has each signature once, and a command that refuses fails
// the job with its message, nothing written.
func TestProcessSignWith(t *testing.T) {
	t.Parallel()
	r := newProcessRig(t, 1)
	if s, res := r.once(t); res.code != 0 || len(s.Processed) != len(r.outputs) {
		t.Fatalf("--key run: exit %d, %+v\n%s", res.code, s, res.stderr)
	}
	remoteLog := filepath.Join(r.dir, "remote-audit.log")
	signer := fmt.Sprintf("%s sign-request --key %s --cert %s --no-policy --audit-log %s --output - -", mksignedBin, r.key, r.cert, remoteLog)
	for _, tc := range []struct {
		name, cmd, want string
	}{
		{"refused", "cat >/dev/null; echo 'policy: refused' >&2; exit 3", "--sign-with: exit status 3: policy: refused"},
		{"no response", "cat >/dev/null", "--sign-with: the command printed no response"},
		{"not a response", "cat", "with the response of --sign-with: "},
		{"sign-request", signer, ""},
	} {
		out, state := filepath.Join(r.dir, "out-"+tc.name), filepath.Join(r.dir, "state-"+tc.name)
		res := mksigned(t, r.dir, nil, "process", "--incoming", r.in, "--output", out, "--state", state,
			"--sign-with", tc.cmd, "--cert", r.cert, "--once", "--json")
		var s processSummary
		if err := json.Unmarshal([]byte(res.stdout), &s); err != nil {
			t.Fatalf("%s: exit %d: %v\n%s", tc.name, res.code, err, res.stderr)
		}
		if tc.want != "" {
			if res.code != 1 || len(s.Failed) != len(r.outputs) || !strings.Contains(s.Failed[0].Reason, tc.want) {
				t.Errorf("%s: exit %d, %+v; want every job failed saying %q", tc.name, res.code, s, tc.want)
			}
			if got := testutil.ListDir(t, out); len(got) != 0 {
				t.Errorf("%s: the output holds %q, want nothing", tc.name, got)
			}
			continue
		}
		if res.code != 0 || len(s.Processed) != len(r.outputs) {
			t.Fatalf("%s: exit %d, %+v\n%s", tc.name, res.code, s, res.stderr)
		}
		if d := cmpTrees(tree(t, r.out), tree(t, out)); d != "" {
			t.Errorf("--sign-with's output differs from --key's:\n%s", d)
		}
	}
	requesters, _ := auditEntries(t, remoteLog)
	local, _ := auditEntries(t, r.audit)
	for v, reqs := range local {
		if len(requesters[v]) != len(reqs) {
			t.Errorf("%s: the signing host signed %d files, want %d", v, len(requesters[v]), len(reqs))
		}
	}
}

// A template replaced in the incoming directory while its job runs: the
// job signs the bytes it hashed for its key, not the new ones (which
// would be recorded under the old bytes' key, past the check that a
// name and version seen with other bytes is a conflict). The --sign-with
// command replaces the template between the request and the response.
func TestProcessTemplateReplaced(t *testing.T) {
	t.Parallel()
	r := newProcessRig(t, 0)
	for _, f := range []string{shimTemplate, shimUnsigned} {
		if err := os.Remove(filepath.Join(r.in, f)); err != nil {
			t.Fatal(err)
		}
	}
	ref := filepath.Join(r.dir, "ref")
	mustMksigned(t, r.dir, nil, "process", "--incoming", r.in, "--output", ref, "--state", filepath.Join(r.dir, "ref-state"),
		"--key", r.key, "--cert", r.cert, "--once")
	signer := fmt.Sprintf("cp %s %s && %s sign-request --key %s --cert %s --no-policy --no-audit-log --output - -",
		testutil.DebianFixture(t, shimTemplate), filepath.Join(r.in, fwupdTemplate), mksignedBin, r.key, r.cert)
	res := mksigned(t, r.dir, nil, "process", "--incoming", r.in, "--output", r.out, "--state", r.state,
		"--sign-with", signer, "--cert", r.cert, "--once", "--json")
	var s processSummary
	if err := json.Unmarshal([]byte(res.stdout), &s); err != nil || res.code != 0 || len(s.Processed) != 1 {
		t.Fatalf("process: exit %d, %v, %+v\n%s", res.code, err, s, res.stderr)
	}
	if d := cmpTrees(tree(t, ref), tree(t, r.out)); d != "" {
		t.Errorf("the output is not the template's that was hashed:\n%s", d)
	}
}
