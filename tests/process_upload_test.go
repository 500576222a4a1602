package tests

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/internal/testutil"
)

// process --changes --upload-key: each output holds the .dsc, the
// .tar.xz and the _source.changes, both clear-signed, which gpgv accepts
// and whose .changes lists the signed .dsc; a resumed job checks the
// .changes too; --upload-key-id signs through gpg. A key that cannot
// sign, or a wrong passphrase, stops the run before any job is claimed:
// no state, no output; one made after the templates' signing time fails
// each job.
func TestProcessUpload(t *testing.T) {
	t.Parallel()
	gpgv := testutil.RequireTool(t, "gpgv")
	g := newGnuPG(t)
	keyring := g.export(t, g.good, false, false)
	goodKey := g.export(t, g.good, true, true)
	passFile := filepath.Join(t.TempDir(), "pass")
	writeFile(t, passFile, []byte(uploadPassphrase+"\n"), 0o600)
	const wrong = "wrong-pw-9d2b"
	wrongFile := filepath.Join(t.TempDir(), "wrong")
	writeFile(t, wrongFile, []byte(wrong+"\n"), 0o600)
	// The signing time is each template's changelog date (2020 and
	// later), after the keys' creation (gpg's faked 2020-01-01).
	env := []string{"GNUPGHOME=" + g.home, "SOURCE_DATE_EPOCH=", "MKSIGNED_UPLOAD_PASSPHRASE="}
	run := func(t *testing.T, r *processRig, more ...string) (processSummary, result) {
		t.Helper()
		res := mksigned(t, r.dir, env, r.args(append([]string{"--once", "--json", "--changes"}, more...)...)...)
		noPassphrase(t, res, wrong)
		var s processSummary
		if res.stdout != "" {
			if err := json.Unmarshal([]byte(res.stdout), &s); err != nil {
				t.Fatalf("process --once --json: stdout not a summary: %v\n%s", err, res.stdout)
			}
		}
		return s, res
	}
	// check checks r's outputs: their files, their signatures by the key
	// of keyring, and that each .changes lists its .dsc as signed.
	check := func(t *testing.T, r *processRig, keyring string) {
		t.Helper()
		for _, name := range r.outputs {
			dir := filepath.Join(r.out, name)
			files := testutil.ListDir(t, dir)
			want := []string{name + ".dsc", name + ".tar.xz", name + "_source.changes"}
			if strings.Join(files, " ") != strings.Join(want, " ") {
				t.Errorf("%s holds %q, want %q", name, files, want)
				continue
			}
			dsc, changes := filepath.Join(dir, want[0]), filepath.Join(dir, want[2])
			for _, f := range []string{dsc, changes} {
				testutil.Run(t, "", gpgv, "--keyring", keyring, f)
			}
			data := readFileT(t, dsc)
			line := fmt.Sprintf("\n %x %d %s\n", sha256.Sum256(data), len(data), want[0])
			if !strings.Contains(string(readFileT(t, changes)), line) {
				t.Errorf("%s does not list the signed .dsc (%q)", changes, line)
			}
		}
	}

	t.Run("cannot sign", func(t *testing.T) {
		t.Parallel()
		r := newProcessRig(t, 0)
		for _, tc := range []struct {
			name string
			args []string
			want string
		}{
			{"wrong passphrase", []string{"--upload-key", goodKey, "--upload-passphrase-file", wrongFile}, "wrong passphrase"},
			{"no passphrase", []string{"--upload-key", goodKey}, "encrypted"},
			{"public key", []string{"--upload-key", g.export(t, g.good, false, true)}, "public key"},
			{"expired", []string{"--upload-key", g.export(t, g.expired, true, true)}, "cannot sign"},
			{"unknown gpg key", []string{"--upload-key-id", "0000000000000000000000000000000000000000"}, "gpg"},
		} {
			_, res := run(t, r, tc.args...)
			if res.code == 0 || !strings.Contains(res.stderr, tc.want) || !strings.Contains(res.stderr, tc.args[0]) {
				t.Errorf("%s: exit %d, stderr %q; want an error naming %s and saying %q", tc.name, res.code, res.stderr, tc.args[0], tc.want)
			}
			// Nothing claimed, nothing written: not even the state.
			notExist(t, r.state)
			notExist(t, r.out)
			notExist(t, r.audit)
		}
	})

	// A key made after a template's signing time can sign no job: each
	// fails, recorded with the reason, and nothing is written.
	t.Run("key newer than the signing time", func(t *testing.T) {
		t.Parallel()
		r := newProcessRig(t, 0)
		s, res := run(t, r, "--upload-key", g.export(t, g.fresh, true, true))
		if res.code != 1 || len(s.Failed) != 2 || len(s.Processed) != 0 {
			t.Fatalf("exit %d, %+v; want both failed\n%s", res.code, s, res.stderr)
		}
		for _, f := range s.Failed {
			if !strings.Contains(f.Reason, "created at") {
				t.Errorf("%s failed with %q, want the key's creation time named", f.Template, f.Reason)
			}
		}
		if got := testutil.ListDir(t, r.out); len(got) != 0 {
			t.Errorf("the output holds %q, want nothing", got)
		}
		if st := r.status(t); len(st.Failed) != 2 {
			t.Errorf("status: %+v, want both recorded failed", st)
		}
	})

	t.Run("key file", func(t *testing.T) {
		t.Parallel()
		r := newProcessRig(t, 0)
		s, res := run(t, r, "--upload-key", goodKey, "--upload-passphrase-file", passFile)
		if res.code != 0 || len(s.Processed) != 2 || len(s.Failed) != 0 {
			t.Fatalf("exit %d, %+v; want both processed\n%s", res.code, s, res.stderr)
		}
		check(t, r, keyring)
		before := tree(t, r.out)

		// A run killed after committing, before recording done: the
		// output, .changes included, is found complete.
		records, _ := filepath.Glob(filepath.Join(r.state, "jobs", "fwupd-*", "*.json"))
		if len(records) != 1 {
			t.Fatalf("fwupd's records: %q", records)
		}
		replaceIn(t, records[0], `"state": "done"`, `"state": "claimed"`)
		s, res = run(t, r, "--upload-key", goodKey, "--upload-passphrase-file", passFile)
		if res.code != 0 || len(s.Processed) != 1 || !s.Processed[0].Resumed || len(s.Skipped) != 1 {
			t.Fatalf("resumed: exit %d, %+v; want fwupd processed (resumed), shim skipped\n%s", res.code, s, res.stderr)
		}
		if d := cmpTrees(before, tree(t, r.out)); d != "" {
			t.Errorf("the resumed run changed the output:\n%s", d)
		}
	})

	t.Run("gpg", func(t *testing.T) {
		t.Parallel()
		r := newProcessRig(t, 0)
		s, res := run(t, r, "--upload-key-id", g.rsa)
		if res.code != 0 || len(s.Processed) != 2 {
			t.Fatalf("exit %d, %+v; want both processed\n%s", res.code, s, res.stderr)
		}
		check(t, r, g.export(t, g.rsa, false, false))
	})
}
