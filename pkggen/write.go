package pkggen

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/ulikunitz/xz"

	"github.com/mksigned/mksigned/internal/atomicfile"
)

// Options controls Write.
type Options struct {
	// SourceDateEpoch is the value of the SOURCE_DATE_EPOCH environment
	// variable, or "" when it is unset (see Epoch).
	SourceDateEpoch string
	// Precompressed, from Precompress on the same tree (its pending
	// entries delivered), spares compressing the chunks it did by the
	// time Write needs them. Write closes it.
	Precompressed *Precompressed
	// Source, when set, is ReadSource's result for the tree (the caller
	// has read it already, as a run of mksigned does once): it is not
	// read again. The tree's changelog and control must be those it was
	// read from.
	Source *Source
}

// source is opts.Source, or tree's read now.
func (opts Options) source(tree []Entry) (*Source, error) {
	if opts.Source != nil {
		return opts.Source, nil
	}
	return ReadSource(tree)
}

// Write builds the "3.0 (native)" source package of tree and writes
// <Source>_<version without epoch>.dsc and .tar.xz into outDir. It returns
// the paths written, .dsc first.
//
// The tarball's top-level directory is named after the Source field, and
// its uncompressed content is what dpkg-source -b makes (see WriteTar). It
// is compressed with github.com/ulikunitz/xz's default settings, which are
// deterministic but not xz(1)'s, so the .tar.xz and the checksums in the
// .dsc differ from dpkg-source's.
//
// Everything is built in memory and written into a new directory beside
// outDir (same parent). When outDir does not exist, that directory is
// renamed to outDir; when it does, the two files are renamed into it,
// replacing files of the same name as dpkg-source does (.tar.xz first, so
// the .dsc never names a tarball that is not there yet). On error, no
// temporary directory or file is left behind, and outDir is created only
// on success. Before the first rename into an existing outDir, both names
// are checked (a directory of either name is an error, and nothing is
// renamed); the two renames are still not one atomic step: if the second
// fails all the same, the new .tar.xz stays beside the old .dsc.
func Write(outDir string, tree []Entry, opts Options) ([]string, error) {
	return WriteContext(context.Background(), outDir, tree, opts)
}

// WriteContext is Write that stops, with ctx's error and nothing written,
// once ctx is done: between chunks of the compression, which takes
// seconds for a large template. Once the temporary directory is made,
// the writes and renames are let finish (a few milliseconds), so that an
// interrupt leaves the output either untouched or complete.
func WriteContext(ctx context.Context, outDir string, tree []Entry, opts Options) ([]string, error) {
	defer opts.Precompressed.Close()
	if outDir == "" {
		return nil, errors.New("write: empty output directory")
	}
	files, err := Build(ctx, tree, opts)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err // the last moment to stop: from here on, finish
	}
	if err := Commit(outDir, files); err != nil {
		return nil, err
	}
	// .dsc first
	return []string{filepath.Join(outDir, files[1].Name), filepath.Join(outDir, files[0].Name)}, nil
}

// File is one file of a built source package.
type File struct {
	Name string // a plain file name
	Data []byte
}

// Build builds tree's source package in memory: the .tar.xz, then the
// .dsc that names it. Commit writes the files (and a later .changes can
// be built from them, and committed with them).
func Build(ctx context.Context, tree []Entry, opts Options) ([]File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	src, err := opts.source(tree)
	if err != nil {
		return nil, err
	}
	epoch, err := Epoch(src, opts.SourceDateEpoch)
	if err != nil {
		return nil, err
	}
	var tarBuf bytes.Buffer
	if err := WriteTar(&tarBuf, src.Name, tree, epoch); err != nil {
		return nil, err
	}
	xzData, err := compressXZ(ctx, tarBuf.Bytes(), opts.Precompressed)
	if err != nil {
		return nil, err
	}
	base := src.BaseName()
	tarName, dscName := base+".tar.xz", base+".dsc"
	dsc, err := DSC(src, tarName, xzData)
	if err != nil {
		return nil, err
	}
	return []File{{tarName, xzData}, {dscName, dsc}}, nil
}

// Commit writes files into outDir, all or none: into a new directory
// beside outDir (same parent), which is renamed to outDir when outDir
// does not exist; when it does, the files are renamed into it in the
// order given (a file that names another, as a .dsc names its tarball,
// goes after it), replacing files of the same name. Every name is checked
// before the first rename; the renames are still not one atomic step.
func Commit(outDir string, files []File) error {
	tmp, err := makeTempDir(outDir)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	for _, f := range files {
		if f.Name == "" || f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == ".." {
			return fmt.Errorf("write: %q is not a plain file name", f.Name)
		}
		if err := writeFileSync(filepath.Join(tmp, f.Name), f.Data); err != nil {
			return err
		}
	}
	fi, err := os.Lstat(outDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Rename(tmp, outDir); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		done = true
		return nil
	case err != nil:
		return fmt.Errorf("write: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("write: %s is not a directory", outDir)
	}
	// Every name is checked before the first rename: a .dsc that cannot
	// be replaced must not leave a new .tar.xz beside the old .dsc.
	for _, f := range files {
		if err := replaceable(filepath.Join(outDir, f.Name)); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := os.Rename(filepath.Join(tmp, f.Name), filepath.Join(outDir, f.Name)); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	done = true
	return nil
}

// replaceable checks that renaming a file to name can succeed as far as
// what is there goes: name is missing, or anything but a directory.
func replaceable(name string) error {
	fi, err := os.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("write: %w", err)
	case fi.IsDir():
		return fmt.Errorf("write: %s exists and is a directory, so the file of that name cannot replace it", name)
	}
	return nil
}

// makeTempDir creates an empty directory with mode 0777 less the umask
// (what the renamed outDir should get) in outDir's parent.
func makeTempDir(outDir string) (string, error) {
	parent, base := filepath.Split(filepath.Clean(outDir))
	if parent == "" {
		parent = "."
	}
	for range 100 {
		var r [6]byte
		if _, err := rand.Read(r[:]); err != nil {
			return "", fmt.Errorf("write: %w", err)
		}
		p := filepath.Join(parent, "."+base+".pkggen-"+hex.EncodeToString(r[:]))
		err := os.Mkdir(p, 0o777)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("write: %w", err)
		}
	}
	return "", fmt.Errorf("write: cannot create a temporary directory beside %s", outDir)
}

// writeFileSync writes a new file with mode 0666 less the umask, as
// dpkg-source does, and syncs it.
func writeFileSync(name string, data []byte) error {
	if err := atomicfile.WriteNew(name, data, 0o666); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// xzChunk is how much of the tar each xz stream holds: the pure-Go
// encoder manages about 3 MB/s, so larger tarballs (linux's
// source-template is 3.8 MB, module templates more) are cut into chunks
// compressed side by side and written as concatenated xz streams, which
// the xz format allows and xz -d (dpkg-source -x) reads as one. The cut
// points depend only on the data, never on the number of CPUs.
const xzChunk = 1 << 20

// compressXZ compresses data with github.com/ulikunitz/xz (LZMA2, CRC64):
// deterministic, and accepted by dpkg-source -x. It stops with ctx's
// error once ctx is done, before the next chunk.
func compressXZ(ctx context.Context, data []byte, pre *Precompressed) ([]byte, error) {
	pre.Close() // the tree is final: stop, and take what was precompressed
	chunks := (len(data) + xzChunk - 1) / xzChunk
	if chunks <= 1 {
		if xz, ok := pre.lookup(0, data); ok {
			return xz, nil
		}
		return compressXZStream(data)
	}
	out := make([][]byte, chunks)
	errs := make([]error, chunks)
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i := range chunks {
		wg.Add(1)
		sem <- struct{}{}
		if ctx.Err() != nil {
			wg.Done()
			<-sem
			break
		}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			chunk := data[i*xzChunk : min((i+1)*xzChunk, len(data))]
			if xz, ok := pre.lookup(i, chunk); ok {
				out[i] = xz
				return
			}
			out[i], errs[i] = compressXZStream(chunk)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return bytes.Join(out, nil), nil
}

// compressXZStream writes one xz stream. Its dictionary is xz -6's 8 MiB,
// or the smallest power of two that holds all of data when that is less:
// the encoder's hash table takes eight bytes per dictionary byte, so for a
// source-template of a few kilobytes the full size cost more time to
// allocate than to compress. The size depends only on data.
func compressXZStream(data []byte) ([]byte, error) {
	dict := 1 << 12
	for dict < len(data) && dict < 8<<20 {
		dict <<= 1
	}
	cfg := xz.WriterConfig{DictCap: dict}
	var buf bytes.Buffer
	w, err := cfg.NewWriter(&buf)
	if err != nil {
		return nil, fmt.Errorf("xz: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("xz: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("xz: %w", err)
	}
	return buf.Bytes(), nil
}
