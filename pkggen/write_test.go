package pkggen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/testutil"
)

// listDir returns the names in dir, sorted.
func listDir(t testing.TB, dir string) []string { return testutil.ListDir(t, dir) }

func fwupdTree(t testing.TB) []Entry {
	tree := templateTree(t, realTemplates[0].fixture)
	return append(tree, Entry{Name: realTemplates[0].sig, Mode: 0o644, ModTime: time.Unix(1700000000, 0), Data: []byte("signature")})
}

// TestWriteExtracts writes source packages with Write and checks that
// dpkg-source -x unpacks them into the input tree (less what the default
// excludes drop), with the same modes.
func TestWriteExtracts(t *testing.T) {
	t.Parallel()
	epoch := time.Unix(1700000500, 0)
	trees := map[string][]Entry{"fwupd": fwupdTree(t), "order": syntheticTrees(epoch)["order"], "excludes": syntheticTrees(epoch)["excludes"],
		// 4 MB: compressed as several concatenated xz streams.
		"large": benchTree()}
	for name, tree := range trees {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dpkgSource := testutil.RequireTool(t, "dpkg-source")
			work := t.TempDir()
			paths, err := Write(filepath.Join(work, "out"), tree, Options{SourceDateEpoch: "1700000500"})
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			src, err := ReadSource(tree)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{filepath.Join(work, "out", src.BaseName()+".dsc"), filepath.Join(work, "out", src.BaseName()+".tar.xz")}
			if fmt.Sprint(paths) != fmt.Sprint(want) {
				t.Errorf("Write returned %q, want %q", paths, want)
			}
			testutil.Run(t, work, dpkgSource, "-x", paths[0], "extracted")

			// The reference: the tree on disk, less what dpkg-source
			// leaves out when it builds.
			materialize(t, filepath.Join(work, "input"), tree, epoch)
			b := runDpkgSource(t, tree, src.Name, "1700000500", epoch)
			testutil.Run(t, b.dir, dpkgSource, "-x", b.dscName, "reference")
			testutil.Run(t, work, "diff", "-r", "--no-dereference", "extracted", filepath.Join(b.dir, "reference"))
			if got, want := modes(t, filepath.Join(work, "extracted")), modes(t, filepath.Join(b.dir, "reference")); got != want {
				t.Errorf("modes after dpkg-source -x differ from dpkg-source's own package:\ngot:\n%s\nwant:\n%s", got, want)
			}
			if name == "fwupd" {
				testutil.Run(t, work, "diff", "-r", "--no-dereference", "extracted", "input")
				if got, want := modes(t, filepath.Join(work, "extracted")), modes(t, filepath.Join(work, "input")); got != want {
					t.Errorf("modes after dpkg-source -x differ from the input tree:\ngot:\n%s\nwant:\n%s", got, want)
				}
			}
		})
	}
}

// modes lists path, type and permission bits of everything under dir.
func modes(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%s %v\n", rel, fi.Mode())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestWriteDeterministic writes the same tree twice, in different entry
// orders, and requires identical files.
func TestWriteDeterministic(t *testing.T) {
	t.Parallel()
	tree := fwupdTree(t)
	work := t.TempDir()
	var contents [][]byte
	for i := range 3 {
		paths, err := Write(filepath.Join(work, fmt.Sprint(i)), shuffled(tree, uint64(i)), Options{})
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
		var all []byte
		for _, p := range paths {
			all = append(all, readFile(t, p)...)
		}
		contents = append(contents, all)
	}
	for i := 1; i < len(contents); i++ {
		if !bytes.Equal(contents[0], contents[i]) {
			t.Errorf("run %d differs from run 0 at %s", i, firstDiff(contents[i], contents[0]))
		}
	}
}

func TestWriteNewDirModes(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	paths, err := Write(filepath.Join(work, "out"), basicTree("synth", "", changelogTime), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// References made with the same umask.
	refFile := filepath.Join(work, "ref-file")
	if err := os.WriteFile(refFile, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	refDir := filepath.Join(work, "ref-dir")
	if err := os.Mkdir(refDir, 0o777); err != nil {
		t.Fatal(err)
	}
	stat := func(p string) fs.FileMode {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode()
	}
	for _, p := range paths {
		if got, want := stat(p), stat(refFile); got != want {
			t.Errorf("%s has mode %v, want %v", p, got, want)
		}
	}
	if got, want := stat(filepath.Join(work, "out")), stat(refDir); got != want {
		t.Errorf("output directory has mode %v, want %v", got, want)
	}
	if got, want := listDir(t, work), []string{"out", "ref-dir", "ref-file"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parent holds %q, want %q", got, want)
	}
}

// TestWriteAtomic checks that a failing Write leaves nothing behind.
func TestWriteAtomic(t *testing.T) {
	t.Parallel()
	broken := func() []Entry {
		var tree []Entry
		for _, e := range basicTree("synth", "", changelogTime) {
			if e.Name != "debian/changelog" {
				tree = append(tree, e)
			}
		}
		return tree
	}
	t.Run("new-dir", func(t *testing.T) {
		t.Parallel()
		parent := t.TempDir()
		if _, err := Write(filepath.Join(parent, "out"), broken(), Options{}); err == nil {
			t.Fatal("Write succeeded without a changelog")
		}
		if got := listDir(t, parent); len(got) != 0 {
			t.Errorf("parent holds %q after a failed Write, want nothing", got)
		}
	})
	t.Run("existing-dir", func(t *testing.T) {
		t.Parallel()
		parent := t.TempDir()
		out := filepath.Join(parent, "out")
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, "keep"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Write(out, broken(), Options{}); err == nil {
			t.Fatal("Write succeeded without a changelog")
		}
		if _, err := Write(out, basicTree("synth", "", changelogTime), Options{SourceDateEpoch: "x"}); err == nil {
			t.Fatal("Write succeeded with a malformed SOURCE_DATE_EPOCH")
		}
		if got := listDir(t, parent); fmt.Sprint(got) != "[out]" {
			t.Errorf("parent holds %q, want [out]", got)
		}
		if got := listDir(t, out); fmt.Sprint(got) != "[keep]" {
			t.Errorf("output directory holds %q, want [keep]", got)
		}
		// Success adds the two files, and a second run replaces them.
		for range 2 {
			if _, err := Write(out, basicTree("synth", "", changelogTime), Options{}); err != nil {
				t.Fatal(err)
			}
			if got, want := listDir(t, out), []string{"keep", "synth_2.0+1.dsc", "synth_2.0+1.tar.xz"}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("output directory holds %q, want %q", got, want)
			}
			if got := listDir(t, parent); fmt.Sprint(got) != "[out]" {
				t.Errorf("parent holds %q, want [out]", got)
			}
		}
	})
	t.Run("out-is-a-file", func(t *testing.T) {
		t.Parallel()
		parent := t.TempDir()
		out := filepath.Join(parent, "out")
		if err := os.WriteFile(out, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Write(out, basicTree("synth", "", changelogTime), Options{}); err == nil {
			t.Fatal("Write into a regular file succeeded")
		}
		if got := listDir(t, parent); fmt.Sprint(got) != "[out]" {
			t.Errorf("parent holds %q, want [out]", got)
		}
	})
	// A directory where the .dsc goes: the .tar.xz, renamed first, must
	// not replace the old one, which the old .dsc names.
	t.Run("dsc-is-a-directory", func(t *testing.T) {
		t.Parallel()
		out := t.TempDir()
		if err := os.WriteFile(filepath.Join(out, "synth_2.0+1.tar.xz"), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(out, "synth_2.0+1.dsc"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := Write(out, basicTree("synth", "", changelogTime), Options{})
		if err == nil || !strings.Contains(err.Error(), "synth_2.0+1.dsc exists and is a directory") {
			t.Errorf("Write with a directory named like the .dsc: %v, want an error naming it", err)
		}
		if b, err := os.ReadFile(filepath.Join(out, "synth_2.0+1.tar.xz")); err != nil || string(b) != "old" {
			t.Errorf("the .tar.xz after the failed Write: %d bytes, %v; want the old one (\"old\"), untouched", len(b), err)
		}
		if got, want := listDir(t, filepath.Dir(out)), []string{filepath.Base(out)}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("parent holds %q, want %q", got, want)
		}
	})
	t.Run("no-parent", func(t *testing.T) {
		t.Parallel()
		parent := t.TempDir()
		if _, err := Write(filepath.Join(parent, "missing", "out"), basicTree("synth", "", changelogTime), Options{}); err == nil {
			t.Fatal("Write under a missing parent succeeded")
		}
		if got := listDir(t, parent); len(got) != 0 {
			t.Errorf("parent holds %q, want nothing", got)
		}
	})
}

// benchTree is a source tree of about 4 MB: signature-sized binary files
// and text.
func benchTree() []Entry {
	tree := basicTree("bench", "", changelogTime)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 400 {
		data := make([]byte, 10000)
		if i%2 == 0 {
			for j := range data {
				data[j] = byte(r.IntN(256))
			}
		} else {
			words := []string{"signature ", "efi ", "module ", "debian ", "package\n"}
			var b bytes.Buffer
			for b.Len() < len(data) {
				b.WriteString(words[r.IntN(len(words))])
			}
			data = b.Bytes()[:len(data)]
		}
		tree = append(tree, Entry{Name: fmt.Sprintf("debian/signatures/bench/usr/lib/modules/%03d/m%d.ko.sig", i/50, i), Mode: 0o644, ModTime: changelogTime, Data: data})
	}
	return tree
}

func BenchmarkWriteTarXZ(b *testing.B) {
	tree := benchTree()
	var size int64
	for _, e := range tree {
		size += int64(len(e.Data))
	}
	b.SetBytes(size)
	for b.Loop() {
		var tarBuf bytes.Buffer
		if err := WriteTar(&tarBuf, "bench", tree, changelogTime); err != nil {
			b.Fatal(err)
		}
		if _, err := compressXZ(context.Background(), tarBuf.Bytes(), nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteTar(b *testing.B) {
	tree := benchTree()
	var size int64
	for _, e := range tree {
		size += int64(len(e.Data))
	}
	b.SetBytes(size)
	for b.Loop() {
		if err := WriteTar(io.Discard, "bench", tree, changelogTime); err != nil {
			b.Fatal(err)
		}
	}
}

// precompressTree is benchTree plus a 3.3 MB file that sorts before
// debian/signatures/, and the names of its signatures.
func precompressTree() (full []Entry, sigs []string) {
	full = append(benchTree(), Entry{Name: "debian/big.txt", Mode: 0o644, ModTime: changelogTime,
		Data: bytes.Repeat([]byte("debian changelog text\n"), 150000)})
	for _, e := range full {
		if strings.HasPrefix(e.Name, "debian/signatures/") && e.Mode.IsRegular() {
			sigs = append(sigs, e.Name)
		}
	}
	return full, sigs
}

// writeBoth writes full with and without pre and fails unless the outputs
// are identical. It returns the final tarball.
func writeBoth(t *testing.T, full []Entry, pre *Precompressed) []byte {
	t.Helper()
	opts := Options{SourceDateEpoch: "1700000000"}
	a, err := Write(filepath.Join(t.TempDir(), "a"), full, Options{SourceDateEpoch: opts.SourceDateEpoch, Precompressed: pre})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Write(filepath.Join(t.TempDir(), "b"), full, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		x, _ := os.ReadFile(a[i])
		y, _ := os.ReadFile(b[i])
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs with precompressed chunks", filepath.Base(a[i]))
		}
	}
	var tarBuf bytes.Buffer
	src, _ := ReadSource(full)
	epoch, _ := Epoch(src, opts.SourceDateEpoch)
	if err := WriteTar(&tarBuf, src.Name, full, epoch); err != nil {
		t.Fatal(err)
	}
	return tarBuf.Bytes()
}

// reused counts the chunks of tarball that pre holds compressed.
func reused(pre *Precompressed, tarball []byte) (n, of int) {
	for i := 0; i*xzChunk < len(tarball); i++ {
		if _, ok := pre.lookup(i, tarball[i*xzChunk:min((i+1)*xzChunk, len(tarball))]); ok {
			n++
		}
		of++
	}
	return n, of
}

// TestPrecompress: a tarball written and compressed while its pending
// entries are delivered, out of order and from several goroutines, gives
// the same output as compressing everything at the end, and every chunk
// of it is reused.
func TestPrecompress(t *testing.T) {
	t.Parallel()
	full, sigs := precompressTree()
	pending := make([]Entry, len(full))
	copy(pending, full)
	data := map[string][]byte{}
	for i, e := range pending {
		if strings.HasPrefix(e.Name, "debian/signatures/") && e.Mode.IsRegular() {
			data[e.Name] = e.Data
			pending[i].Data = nil // not known yet
		}
	}
	pre := Precompress(pending, Options{SourceDateEpoch: "1700000000"}, sigs)
	if pre == nil {
		t.Fatal("Precompress gave nil")
	}
	order := rand.New(rand.NewPCG(3, 4)).Perm(len(sigs))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for k := g; k < len(order); k += 4 {
				name := sigs[order[k]]
				pre.Deliver(name, data[name])
				pre.Deliver(name, []byte("a second delivery is ignored"))
			}
		})
	}
	pre.Deliver("debian/not-pending", []byte("ignored"))
	wg.Wait()
	<-pre.done // everything delivered: the background work ends by itself
	tarball := writeBoth(t, full, pre)
	if n, of := reused(pre, tarball); n != of || of < 8 {
		t.Errorf("%d of %d chunks were precompressed, want all (and at least 8)", n, of)
	}
}

// waitCompressed waits until pre has compressed n chunks.
func waitCompressed(t *testing.T, pre *Precompressed, n int32) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); pre.compressed.Load() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d chunks compressed after a minute, want %d", pre.compressed.Load(), n)
		}
	}
}

// TestPrecompressClosedEarly: when Write comes before every pending entry
// is delivered (a caller's bug), the chunks before the first missing
// entry are reused and the output is still right.
func TestPrecompressClosedEarly(t *testing.T) {
	t.Parallel()
	full, sigs := precompressTree()
	pre := Precompress(full, Options{SourceDateEpoch: "1700000000"}, sigs)
	// Deliver all but one signature in the middle (the entries' data in
	// full is ignored: pending entries wait for Deliver).
	missing := sigs[len(sigs)/2]
	for _, e := range full {
		if e.Name != missing {
			pre.Deliver(e.Name, e.Data)
		}
	}
	waitCompressed(t, pre, 4) // the chunks before missing
	tarball := writeBoth(t, full, pre)
	n, of := reused(pre, tarball)
	if n < 4 || n >= of {
		t.Errorf("%d of %d chunks were precompressed, want those before %s (at least 4) and no more", n, of, missing)
	}
	pre.Close() // again: no effect
}

// TestPrecompressCloseStops: Close (an error or an interrupt) stops the
// background work at once, with at most the chunk in hand compressed,
// even when everything was delivered.
func TestPrecompressCloseStops(t *testing.T) {
	t.Parallel()
	full, sigs := precompressTree()
	full = append(full, Entry{Name: "debian/big2.txt", Mode: 0o644, ModTime: changelogTime,
		Data: bytes.Repeat([]byte("more changelog text\n"), 300000)})
	pre := Precompress(full, Options{SourceDateEpoch: "1700000000"}, sigs)
	for _, e := range full {
		pre.Deliver(e.Name, e.Data)
	}
	pre.Close()
	if n := pre.compressed.Load(); n > 2 {
		t.Errorf("%d chunks compressed after Close, want at most the one in hand (and one started before)", n)
	}
}

func TestPrecompressNil(t *testing.T) {
	t.Parallel()
	bad := []Entry{{Name: "../x", Mode: 0o644}}
	pre := Precompress(bad, Options{}, []string{"x"})
	if pre != nil {
		t.Fatalf("Precompress of an unreadable tree gave %v, want nil", pre)
	}
	pre.Deliver("x", nil)
	pre.Close()
	if _, ok := pre.lookup(0, nil); ok {
		t.Error("lookup on nil found a chunk")
	}
}

// TestWriteGivenSource: a Source given in Options is the one written
// (ReadSource is not run again) and gives the bytes ReadSource's does.
func TestWriteGivenSource(t *testing.T) {
	t.Parallel()
	tree := fwupdTree(t)
	src, err := ReadSource(tree)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	read, err := Write(filepath.Join(work, "read"), tree, Options{})
	if err != nil {
		t.Fatal(err)
	}
	given, err := Write(filepath.Join(work, "given"), tree, Options{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	for i := range read {
		if !bytes.Equal(readFile(t, read[i]), readFile(t, given[i])) {
			t.Errorf("%s differs with the Source given", filepath.Base(read[i]))
		}
	}
	// Given, it is used: a tree whose changelog is broken is written.
	var broken []Entry
	for _, e := range tree {
		if e.Name == "debian/changelog" {
			e.Data = []byte("not a changelog\n")
		}
		broken = append(broken, e)
	}
	if _, err := ReadSource(broken); err == nil {
		t.Fatal("the broken changelog reads")
	}
	if _, err := Write(filepath.Join(work, "broken"), broken, Options{Source: src}); err != nil {
		t.Errorf("Write with the Source given read the tree's changelog again: %v", err)
	}
}

// TestCommit: N files land together, in a new directory or an existing
// one; a name that is no plain file name is refused and nothing written.
func TestCommit(t *testing.T) {
	t.Parallel()
	files := []File{{"a_1.tar.xz", []byte("t")}, {"a_1.dsc", []byte("d")}, {"a_1_source.changes", []byte("c")}}
	for _, exists := range []bool{false, true} {
		out := filepath.Join(t.TempDir(), "out")
		if exists {
			os.Mkdir(out, 0o755)
			os.WriteFile(filepath.Join(out, "a_1.dsc"), []byte("old"), 0o644)
		}
		if err := Commit(out, files); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if got := readFile(t, filepath.Join(out, f.Name)); string(got) != string(f.Data) {
				t.Errorf("%s holds %q, want %q", f.Name, got, f.Data)
			}
		}
		if got := listDir(t, filepath.Dir(out)); len(got) != 1 {
			t.Errorf("left beside the output: %v", got)
		}
		if got := listDir(t, out); len(got) != len(files) {
			t.Errorf("output holds %v", got)
		}
	}
	for _, bad := range []string{"../x", "d/x", "", ".."} {
		parent := t.TempDir()
		if err := Commit(filepath.Join(parent, "out"), []File{{"ok", nil}, {bad, nil}}); err == nil {
			t.Errorf("Commit of %q succeeded", bad)
		}
		if got := listDir(t, parent); len(got) != 0 {
			t.Errorf("Commit of %q left %v", bad, got)
		}
	}
}
