package job

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mksigned/mksigned/audit"
	"github.com/mksigned/mksigned/internal/clobber"
	"github.com/mksigned/mksigned/internal/testutil"
	"github.com/mksigned/mksigned/sign"
)

// outputRun is a run signing three modules of the synthetic package, with
// the key's file among its inputs, writing into out.
func outputRun(t *testing.T, out string) GenerateOptions {
	t.Helper()
	files, listed := testModules(t, 3)
	key := testutil.NewKey(t, 0)
	return GenerateOptions{
		Template: writeTestTemplate(t, "debhelper-compat (= 13)", listed...),
		Unsigned: []string{writeTestDeb(t, files...)},
		Key:      &sign.Key{Signer: key.Signer, Cert: key.Cert},
		Inputs:   []clobber.Input{{Flag: "--key", Path: key.KeyPath}},
		Output:   out,
	}
}

const (
	outDSC = testSource + "_1.0+1.dsc"
	outTar = testSource + "_1.0+1.tar.xz"
)

// TestOutputSymlinkFollowed: an --output that is a symbolic link to a
// directory is that directory, for the dry run and the real run alike;
// the temporary directory goes beside the real one, and nothing is left
// beside the link.
func TestOutputSymlinkFollowed(t *testing.T) {
	t.Parallel()
	parent, elsewhere := t.TempDir(), t.TempDir()
	real := filepath.Join(elsewhere, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(parent, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	opts := outputRun(t, link)
	for _, dry := range []bool{true, false} {
		opts.DryRun = dry
		r, err := Generate(context.Background(), opts)
		if err != nil {
			t.Fatalf("dry run %v into a link to a directory: %v", dry, err)
		}
		if !dry {
			if want := []string{filepath.Join(link, outDSC), filepath.Join(link, outTar)}; !slices.Equal(r.Written, want) {
				t.Errorf("Written = %q, want %q", r.Written, want)
			}
		}
	}
	if got, want := testutil.ListDir(t, real), []string{outDSC, outTar}; !slices.Equal(got, want) {
		t.Errorf("the linked directory holds %q, want %q", got, want)
	}
	if got := testutil.ListDir(t, parent); !slices.Equal(got, []string{"link"}) {
		t.Errorf("the link's directory holds %q, want only the link", got)
	}
	if got := testutil.ListDir(t, elsewhere); !slices.Equal(got, []string{"real"}) {
		t.Errorf("the real directory's parent holds %q, want only real", got)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode().Type() != os.ModeSymlink {
		t.Errorf("--output link after the run: %v, %v; want it still a link", fi, err)
	}
}

// TestOutputOffInputs: an output that would replace an input file, or lie
// in a directory the run reads, is refused before any work, by the dry
// run and the real run alike, with nothing written; links and second
// names do not get past.
func TestOutputOffInputs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		// setup returns --output, given the run's options.
		setup func(t *testing.T, o *GenerateOptions) string
		want  string
	}{
		{"inside --signatures", func(t *testing.T, o *GenerateOptions) string {
			return filepath.Join(useSignatures(t, o), "out")
		}, "is inside --signatures "},
		{"is --signatures", func(t *testing.T, o *GenerateOptions) string {
			return useSignatures(t, o)
		}, "is the same directory as --signatures "},
		{"inside --signatures through a link", func(t *testing.T, o *GenerateOptions) string {
			sub := filepath.Join(useSignatures(t, o), testPkg)
			link := filepath.Join(t.TempDir(), "link")
			symlink(t, sub, link)
			return filepath.Join(link, "out")
		}, "is inside --signatures "},
		{"inside the template directory", func(t *testing.T, o *GenerateOptions) string {
			return filepath.Join(o.Template, "source-template", "debian")
		}, "is inside --template "},
		{"the .dsc is a second name of the key", func(t *testing.T, o *GenerateOptions) string {
			out := t.TempDir()
			link(t, o.Inputs[0].Path, filepath.Join(out, outDSC))
			return out
		}, ": " + outDSC + " is --key "},
		{"the .tar.xz is a link to an unsigned package", func(t *testing.T, o *GenerateOptions) string {
			out := t.TempDir()
			symlink(t, o.Unsigned[0], filepath.Join(out, outTar))
			return out
		}, ": " + outTar + " is --unsigned "},
		{"the .dsc is a directory", func(t *testing.T, o *GenerateOptions) string {
			out := t.TempDir()
			mkdir(t, filepath.Join(out, outDSC))
			return out
		}, ": " + outDSC + " exists and is a directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opts := outputRun(t, "")
			opts.Output = c.setup(t, &opts)
			before := snapshot(t, opts)
			for _, dry := range []bool{true, false} {
				opts.DryRun = dry
				_, err := Generate(context.Background(), opts)
				if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "--output ") {
					t.Errorf("dry run %v: %v; want an error naming --output and saying %q", dry, err, c.want)
				}
			}
			if after := snapshot(t, opts); after != before {
				t.Errorf("a refused run changed its inputs or output:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// useSignatures turns the run into one with --signatures: it signs the
// files once, writes the signatures into a new directory and returns it.
// Such a run succeeds, and writes into that directory, unless refused.
func useSignatures(t *testing.T, o *GenerateOptions) string {
	t.Helper()
	signing := *o
	signing.Output = ""
	signing.DryRun = true
	r, debs, err := prepare(context.Background(), signing)
	if err != nil {
		t.Fatal(err)
	}
	// Sign, but write nothing.
	if err := r.run(context.Background(), signing.collect(keySource{key: o.Key, epoch: r.Epoch}), debs, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, it := range r.Items {
		p := filepath.Join(dir, signatureFile(it))
		mkdir(t, filepath.Dir(p))
		if err := os.WriteFile(p, it.Sig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o.Signatures, o.Cert, o.Key = dir, o.Key.Cert, nil
	return dir
}

// snapshot lists the files below the run's input directories and its
// output directory's parent, with their sizes.
func snapshot(t *testing.T, o GenerateOptions) string {
	t.Helper()
	var b strings.Builder
	for _, root := range []string{o.Template, o.Signatures, filepath.Dir(o.Output)} {
		if root == "" {
			continue
		}
		err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "%s %v %d\n", p, fi.Mode(), fi.Size())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Link(target, name); err != nil {
		t.Fatal(err)
	}
}

// TestAuditRefusedWritesNothing: a log that refuses the records after the
// files are signed (here: replaced after it was opened) fails the run
// before the output is written, and says so: a signature is released only
// once it is recorded.
func TestAuditRefusedWritesNothing(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "audit.log")
	l, err := audit.Open(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	other := filepath.Join(dir, "other.log")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, logFile); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	opts := outputRun(t, out)
	opts.AuditLog = l
	_, err = Generate(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "nothing written") {
		t.Fatalf("Generate = %v, want the log's refusal and \"nothing written\"", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output written although the log refused the records: %v", err)
	}
	if b, _ := os.ReadFile(logFile); len(b) != 0 {
		t.Errorf("the log holds %q", b)
	}
}
