// Package job runs mksigned's commands end to end: it reads the template
// and the packages, signs or checks signatures, and writes or verifies the
// -signed source package. cmd/mksigned only parses flags and calls it.
package job

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pault.ag/go/debian/version"

	"github.com/mksigned/mksigned/audit"
	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/clobber"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/inputfile"
	"github.com/mksigned/mksigned/pkggen"
	"github.com/mksigned/mksigned/sign"
	"github.com/mksigned/mksigned/sign/efi"
	"github.com/mksigned/mksigned/template"
)

// maxListedFile bounds one file to sign, checked against its tar header
// before it is read: an EFI image is held whole until it is signed, and
// verify, attach and detach hold modules too. The largest real ones are
// arm64 kernel images (45 MB: vmlinuz-6.12.117+deb12-arm64-16k; amd64's
// are 12 MB) and amdgpu.ko (19.5 MB in linux 6.1).
const maxListedFile = 128 << 20

// maxSignature bounds a detached signature read from --signatures; real
// ones are 400 bytes to a few kilobytes.
const maxSignature = 1 << 20

// GenerateOptions are the inputs of Generate. Exactly one of Key and
// Signatures is set, unless DryRun.
type GenerateOptions struct {
	Template string   // *-signed-template .deb or code-signing directory
	Unsigned []string // one .deb per package files.json names
	Key      *sign.Key
	// Signatures is a directory of detached signatures laid out as
	// <package>/<path>.sig, used instead of signing.
	Signatures string
	// Cert checks Signatures; linux-module signatures carry no certificate
	// and need it.
	Cert *x509.Certificate
	// Inputs are the other files the run reads (the key, its
	// certificate, a passphrase file), which no output may replace.
	Inputs []clobber.Input
	Output string
	DryRun bool
	// SourceDateEpoch is $SOURCE_DATE_EPOCH; empty means the changelog's
	// top date.
	SourceDateEpoch string
	// Jobs is how many files are signed at once; 0 means one per CPU, and
	// more than MaxJobs means MaxJobs. The
	// output does not depend on it. Give the process Procs(Jobs,
	// len(Unsigned)) Ps (runtime.GOMAXPROCS) for the best overlap.
	Jobs int
	// Progress, when set, is called from several goroutines as work
	// advances.
	Progress func(Progress)
	// AuditLog, when set, records every signature the Key makes, before
	// the output that holds them is written (see package audit); the
	// entries name Requester.
	AuditLog  *audit.Log
	Requester string
	// StopEarly stops reading each package once its listed files have
	// been seen. It is faster (a kernel image is the 5th of 5,000 entries),
	// but what follows goes unread: a later entry of the same name, which
	// dpkg would install in place of the one signed, or damage. Only for
	// packages from a builder the operator trusts. By default every
	// package is read to its end, and any second entry of a path refused.
	StopEarly bool
	// Changes also writes the source-only upload's .changes
	// (pkggen.Changes), committed with the .dsc and .tar.xz.
	Changes bool
	// Upload, when set, clear-signs the .dsc and then (with Changes) the
	// .changes, whose checksums then cover the signed .dsc, as debsign
	// does; the signatures are made as of the Result's Epoch.
	Upload ClearSigner
}

// ClearSigner makes OpenPGP cleartext signatures (see package pgpsign).
type ClearSigner interface {
	ClearSign(ctx context.Context, text []byte, when time.Time) ([]byte, error)
}

// Progress is a snapshot of a running Generate.
type Progress struct {
	Files, TotalFiles int   // files signed (or checked), of all listed
	BytesRead         int64 // bytes of .deb files read so far
}

// Item is one file to sign.
type Item struct {
	Package string // unsigned package name
	Version string // and its version
	Deb     string // the .deb it came from
	File    template.File
	Size    int64
	Sig     []byte
	// Digest is what is signed (set when signing with a key, and for a
	// request), and SHA256 the whole file's hash (set for a request,
	// where both go to the signing host).
	Digest, SHA256 []byte
	member         string // the .deb's data member, for errors
}

// SigPath is where Item's signature lives in the source package.
func (it *Item) SigPath() string { return template.SignaturePath(it.Package, it.File.Path) }

// Result describes what Generate did or, for a dry run, would do.
type Result struct {
	Template *template.Template
	Items    []*Item // in files.json order
	// Contents is what the tarball holds of the template: all of the
	// source package but the signatures.
	Contents *pkggen.Contents
	Epoch    time.Time
	DSC, Tar string // output file names
	// Changes is the .changes file's name, with GenerateOptions.Changes.
	Changes string
	// Written are the files written: the --output directory as given,
	// joined with DSC and Tar (and Changes).
	Written []string

	outDir string         // the --output directory, links resolved (checkOutput)
	source *pkggen.Source // the template's, read once (prepare)
}

// Generate makes the -signed source package, or with DryRun checks
// everything that can be checked without a key: the template, that every
// package is given and satisfies the template's Build-Depends, and that
// every listed file is present, a regular file and of the kind its sig_type
// needs.
//
// Each .deb is read once, as a stream, to its end (or, with StopEarly,
// until every listed file of it has been seen). A kernel module is hashed as it streams
// past and never held. Any other listed file (an EFI image, whose
// Authenticode digest skips parts of it) is held only until it is signed:
// in memory at once are at most queueBytes of waiting files (or one larger
// file), plus one per worker and one per reader.
//
// Cancelling ctx (an interrupt) stops reading, decoding, signing and
// compressing at once; only the final writes and renames of the output,
// once begun, are let finish, so that nothing is left half-written.
func Generate(ctx context.Context, opts GenerateOptions) (*Result, error) {
	r, debs, err := prepare(ctx, opts)
	if err != nil {
		return nil, err
	}
	src, err := opts.source(r)
	if err != nil {
		return nil, err
	}
	wopts := pkggen.Options{SourceDateEpoch: opts.SourceDateEpoch, Source: r.source}
	if !opts.DryRun {
		// The tarball is written and compressed while the files are
		// read and signed: the template's part now, each chunk of
		// signatures once they are made.
		pending := make([]string, len(r.Items))
		for i, it := range r.Items {
			pending[i] = it.SigPath()
		}
		wopts.Precompressed = pkggen.Precompress(r.tree(), wopts, pending)
		defer wopts.Precompressed.Close()
	}
	if err := r.run(ctx, opts.collect(src), debs, wopts.Precompressed); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.DryRun {
		return r, nil
	}
	if err := r.audit(ctx, opts); err != nil {
		return nil, err
	}
	files, err := r.build(ctx, opts, wopts)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err // the last moment to stop: from here on, finish
	}
	if err := pkggen.Commit(r.outDir, files); err != nil {
		return nil, err
	}
	// .dsc first, then the tarball, then the .changes
	files[0], files[1] = files[1], files[0]
	for _, f := range files {
		r.Written = append(r.Written, filepath.Join(opts.Output, f.Name))
	}
	return r, nil
}

// build builds the source package's files in the order pkggen.Commit
// writes them: the .tar.xz, the .dsc (signed with opts.Upload) and, with
// opts.Changes, the .changes that lists them (signed too).
func (r *Result) build(ctx context.Context, opts GenerateOptions, wopts pkggen.Options) ([]pkggen.File, error) {
	files, err := pkggen.Build(ctx, r.tree(), wopts)
	if err != nil {
		return nil, err
	}
	sign := func(f *pkggen.File) error {
		if opts.Upload == nil {
			return nil
		}
		signed, err := opts.Upload.ClearSign(ctx, f.Data, r.Epoch)
		if err != nil {
			return fmt.Errorf("signing %s: %w", f.Name, err)
		}
		f.Data = signed
		return nil
	}
	if err := sign(&files[1]); err != nil {
		return nil, err
	}
	if !opts.Changes {
		return files, nil
	}
	changes, err := pkggen.Changes(r.source, files)
	if err != nil {
		return nil, r.Template.SourceError(err)
	}
	if err := sign(&changes); err != nil {
		return nil, err
	}
	return append(files, changes), nil
}

// source is where opts says the signatures come from; for given ones it
// refuses signatures no listed file uses before any file is read.
func (opts GenerateOptions) source(r *Result) (source, error) {
	switch {
	case opts.Signatures != "":
		store, err := openSignatures(opts.Signatures)
		if err != nil {
			return nil, err
		}
		if err := checkUnused(store, r.Items); err != nil {
			return nil, err
		}
		return givenSource{store: store, cert: opts.Cert}, nil
	case opts.DryRun:
		return noSource{}, nil
	case opts.Key == nil:
		return nil, errors.New("no key, no --signatures and not a dry run: nothing to sign with")
	}
	return keySource{key: opts.Key, epoch: r.Epoch}, nil
}

// collect is how run reads and where its signatures come from.
type collect struct {
	src       source
	jobs      int
	progress  func(Progress)
	stopEarly bool
	// hashFiles has the reader hash each streamed file whole (Item.SHA256),
	// for a request.
	hashFiles bool
}

func (opts GenerateOptions) collect(src source) collect {
	return collect{src: src, jobs: opts.Jobs, progress: opts.Progress, stopEarly: opts.StopEarly}
}

// unsignedDeb is one --unsigned package, matched with what files.json asks
// of it.
type unsignedDeb struct {
	path  string
	pkg   *deb.Package
	spec  *template.Package
	items map[string]*Item // by path inside the package
}

// prepare loads the template and reads the control data of every unsigned
// package (a few kilobytes at the start of each), so that missing, extra
// and mismatched packages are reported before any file is read or signed.
func prepare(ctx context.Context, opts GenerateOptions) (*Result, []*unsignedDeb, error) {
	t, err := loadTemplate(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	// The tarball's mtimes and the signing time are one and the same epoch,
	// worked out as dpkg-source does.
	src, err := pkggen.ReadSource(sourceTree(t))
	if err != nil {
		return nil, nil, t.SourceError(err)
	}
	epoch, err := pkggen.Epoch(src, opts.SourceDateEpoch)
	var ie *inputerr.Error
	if errors.As(err, &ie) {
		return nil, nil, t.SourceError(err) // the changelog's date
	}
	if err != nil {
		return nil, nil, err // SOURCE_DATE_EPOCH's
	}
	// A key that cannot sign as of the epoch stops the run before any work.
	if c, ok := opts.Upload.(interface{ Check(time.Time) error }); ok {
		if err := c.Check(epoch); err != nil {
			return nil, nil, err
		}
	}
	contents, err := pkggen.Count(src.Name, sourceTree(t))
	if err != nil {
		return nil, nil, t.SourceError(err)
	}
	r := &Result{
		Template: t,
		Contents: contents,
		Epoch:    epoch,
		DSC:      src.BaseName() + ".dsc",
		Tar:      src.BaseName() + ".tar.xz",
		source:   src,
	}
	names := []string{r.Tar, r.DSC}
	if opts.Changes {
		if err := pkggen.CheckChanges(src); err != nil {
			return nil, nil, t.SourceError(err)
		}
		r.Changes = src.ChangesName()
		names = append(names, r.Changes)
	}
	if r.outDir, err = checkOutput(opts, names...); err != nil {
		return nil, nil, err
	}
	wanted := map[string]*template.Package{}
	for i := range t.Manifest.Packages {
		wanted[t.Manifest.Packages[i].Name] = &t.Manifest.Packages[i]
	}
	byPkg := map[string]*unsignedDeb{}
	var debs []*unsignedDeb
	for _, path := range opts.Unsigned {
		name := filepath.Base(path)
		pkg, err := deb.ReadControlContext(ctx, path)
		if err != nil {
			return nil, nil, err
		}
		spec := wanted[pkg.Name]
		if spec == nil {
			return nil, nil, fmt.Errorf("%s: package %s is not named in the template's files.json", name, pkg.Name)
		}
		if prev, dup := byPkg[pkg.Name]; dup {
			return nil, nil, fmt.Errorf("%s and %s are both package %s: pass each package once", filepath.Base(prev.path), name, pkg.Name)
		}
		v, err := version.Parse(pkg.Version)
		if err != nil {
			return nil, nil, &inputerr.Error{File: name, Member: "control", Field: "Version", Offset: inputerr.NoOffset, Err: err}
		}
		if err := checkArchitecture(src.Architectures(), pkg.Architecture); err != nil {
			return nil, nil, &inputerr.Error{File: name, Member: "control", Field: "Architecture", Offset: inputerr.NoOffset,
				Err: fmt.Errorf("package %s: %w", pkg.Name, err)}
		}
		if err := t.CheckVersion(pkg.Name, v, pkg.Architecture); err != nil {
			return nil, nil, fmt.Errorf("%s: template %s: %w", name, t.Name, err)
		}
		d := &unsignedDeb{path: path, pkg: pkg, spec: spec, items: map[string]*Item{}}
		for _, f := range spec.Files {
			d.items[f.Path] = &Item{Package: pkg.Name, Version: pkg.Version, Deb: path, File: f, Size: -1, member: pkg.DataMember}
		}
		byPkg[pkg.Name] = d
		debs = append(debs, d)
	}
	for _, p := range t.Manifest.Packages {
		d, ok := byPkg[p.Name]
		if !ok {
			return nil, nil, fmt.Errorf("template %s signs files of package %s, but no --unsigned .deb is package %s", t.Name, p.Name, p.Name)
		}
		for _, f := range p.Files {
			it := d.items[f.Path]
			// dpkg-source would drop the signature silently, and the
			// signed package would then be built without it.
			if pat, ok := pkggen.Excluded(src.Name, it.SigPath()); ok {
				return nil, nil, &inputerr.Error{File: "files.json", Field: "packages." + p.Name, Offset: inputerr.NoOffset,
					Err: fmt.Errorf("%s: its signature %s would be left out of the source package: dpkg-source -b excludes names matching %q", strconv.Quote(f.Path), it.SigPath(), pat)}
			}
			r.Items = append(r.Items, it)
		}
	}
	return r, debs, nil
}

// checkArchitecture refuses an unsigned package built for an architecture
// the signed package is not built for: the template's Build-Depends pin
// the packages of the architectures it builds on, and checking a package
// of another against them would skip the relations restricted to those
// (an arm64 fwupd-unsigned of any version passes "[amd64]" pins).
func checkArchitecture(builds []string, arch string) error {
	if arch == "all" {
		return nil
	}
	for _, b := range builds {
		if b == "all" {
			continue
		}
		ok, err := template.ArchIs(arch, b)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("built for %s, but the signed source package builds for %s only: its Build-Depends pin the packages of those",
		arch, strings.Join(builds, " "))
}

// task is one listed file on its way to a worker: its contents, or for a
// format that digests as it reads (newStream), only its digest.
type task struct {
	it     *Item
	data   []byte
	digest []byte
}

// run reads every package, handing each listed file to a pool of workers
// that check it and sign it (or check its given signature). The first
// error stops everything at once, the other packages' readers in the
// middle of a read; which error that is can depend on timing when
// several inputs are bad.
func (r *Result) run(ctx context.Context, opts collect, debs []*unsignedDeb, pre *pkggen.Precompressed) error {
	jobs := jobCount(opts.jobs)
	nreaders := min(jobs, len(debs))
	// Readers read under runCtx: an error anywhere cancels it, and a
	// reader decoding a large entry next to a bad package stops at its
	// next read instead of when its package ends.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu     sync.Mutex
		done   int
		read   atomic.Int64
		failed = firstError{cancel: cancel}
	)
	stop := context.AfterFunc(ctx, failed.halt)
	defer stop()
	report := func() {
		if opts.progress == nil {
			return
		}
		mu.Lock()
		p := Progress{Files: done, TotalFiles: len(r.Items), BytesRead: read.Load()}
		mu.Unlock()
		opts.progress(p)
	}

	tasks := newQueue(len(r.Items))
	handle := func(t task) {
		if failed.stopped() {
			tasks.done(t)
			return
		}
		err := process(opts.src, t)
		tasks.done(t)
		if err != nil {
			failed.set(err)
			return
		}
		pre.Deliver(t.it.SigPath(), t.it.Sig)
		mu.Lock()
		done++
		mu.Unlock()
		report()
	}
	workers := startPool(jobs, tasks, handle)

	// Readers run side by side, as many as there are workers: with xz
	// input, decoding is most of the work.
	sem := make(chan struct{}, nreaders)
	var readers sync.WaitGroup
	for _, d := range debs {
		readers.Add(1)
		sem <- struct{}{}
		go func() {
			defer readers.Done()
			defer func() { <-sem }()
			if failed.stopped() {
				return
			}
			if err := d.stream(runCtx, tasks, &read, failed.stopped, report, opts); err != nil {
				failed.set(err)
			}
		}()
	}
	readers.Wait()
	workers.finish()
	if err := failed.get(); err != nil {
		return err
	}
	return ctx.Err()
}

// process checks one listed file and obtains its signature; it keeps only
// the signature (or for a request the digests).
func process(src source, t task) error {
	if t.digest == nil {
		if err := formats[t.it.File.SigType].check(t.data); err != nil {
			return kindError(t.it, err)
		}
	}
	return src.obtain(t.it, t.data, t.digest)
}

// kindError says that it is not a file its sig_type can sign.
func kindError(it *Item, err error) error {
	return &inputerr.Error{File: filepath.Base(it.Deb), Member: it.member, Path: it.File.Path, Offset: inputerr.NoOffset,
		Err: fmt.Errorf("sig_type %s: %w", it.File.SigType, err)}
}

// stream reads the package once, sending each listed file to tasks, to
// its end (deb.Read refuses a path that appears twice), or with stopEarly
// only until it has sent them all; it stops when stop says so, between
// entries, or when ctx is done, at its next read.
func (d *unsignedDeb) stream(ctx context.Context, tasks *queue, read *atomic.Int64, stop func() bool, report func(), opts collect) error {
	name := filepath.Base(d.path)
	f, err := inputfile.Open(d.path)
	if err != nil {
		return err
	}
	defer f.Close()
	src, err := newCountingFile(f, read, report)
	if err != nil {
		return err
	}
	left := len(d.items)
	seen := map[string]bool{}
	// As large as the xz program's read buffer, so that reads of a module
	// bypass that buffer instead of being copied through it.
	buf := make([]byte, 256<<10)
	_, err = deb.ReadContext(ctx, src, name, func(_ *deb.Package, e *deb.Entry, body io.Reader) error {
		if stop() {
			return errStopped
		}
		it, listed := d.items[e.Path]
		if !listed {
			return nil
		}
		seen[e.Path] = true // once: deb.Read refuses a second entry
		if e.Type != tar.TypeReg {
			return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset,
				Err: fmt.Errorf("listed in files.json for signing, but is %s", describeType(e))}
		}
		if err := checkListedSize(e); err != nil {
			return err
		}
		it.Size = e.Size
		if newStream := formats[it.File.SigType].newStream; newStream != nil {
			sd := newStream()
			var w io.Writer = sd
			var whole hash.Hash // the whole file's, for a request only
			if opts.hashFiles {
				whole = sha256.New()
				w = io.MultiWriter(sd, whole)
			}
			if n, err := io.CopyBuffer(w, body, buf); err != nil || n != e.Size {
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset, Err: err}
			}
			digest, err := sd.finish()
			if err != nil {
				return kindError(it, err)
			}
			if opts.hashFiles {
				it.SHA256 = whole.Sum(nil)
			}
			tasks.put(task{it: it, digest: digest})
		} else {
			// The header first: a file that is not of its kind is
			// refused at its start, before the rest is held (a 77 KB
			// package expanding to 500 MiB of zeros took 938 MB).
			head := make([]byte, min(e.Size, efi.HeadSize))
			if _, err := io.ReadFull(body, head); err != nil {
				return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset, Err: err}
			}
			if check := formats[it.File.SigType].checkHead; check != nil {
				if err := check(head, e.Size); err != nil {
					return kindError(it, err)
				}
			}
			data, err := readBody(io.MultiReader(bytes.NewReader(head), body), e.Size)
			if err != nil {
				return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset, Err: err}
			}
			tasks.put(task{it: it, data: data})
		}
		if left--; left == 0 && opts.stopEarly {
			return deb.ErrStop
		}
		return nil
	})
	if errors.Is(err, errStopped) {
		return nil
	}
	if err != nil {
		return inputerr.WithFile(err, name)
	}
	for _, f := range d.spec.Files {
		if !seen[f.Path] {
			return &inputerr.Error{File: name, Member: d.pkg.DataMember, Path: f.Path, Offset: inputerr.NoOffset,
				Err: errors.New("listed in files.json but not in the package")}
		}
	}
	return nil
}

// checkListedSize refuses a listed file larger than maxListedFile, from
// its tar header.
func checkListedSize(e *deb.Entry) error {
	if e.Size > maxListedFile {
		return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset,
			Err: fmt.Errorf("is %d bytes, more than the %d a file to sign may have", e.Size, maxListedFile)}
	}
	return nil
}

// readBody reads a tar entry's body of the given size, which the caller
// has checked against maxListedFile. It is read into one buffer of that
// size: growing one as bytes arrive held up to twice the file.
func readBody(body io.Reader, size int64) ([]byte, error) {
	buf := make([]byte, size)
	_, err := io.ReadFull(body, buf)
	return buf, err
}

// errStopped ends a reader because another part of the run failed.
var errStopped = errors.New("stopped")

func describeType(e *deb.Entry) string {
	switch e.Type {
	case tar.TypeSymlink:
		return "a symbolic link to " + strconv.Quote(e.Linkname)
	case tar.TypeLink:
		return "a hard link to " + strconv.Quote(e.Linkname)
	case tar.TypeDir:
		return "a directory"
	}
	return fmt.Sprintf("not a regular file (tar type %q)", e.Type)
}

// countingFile counts the bytes read from a .deb for progress reports. Its
// Len lets deb.Read check member sizes against the file's.
type countingFile struct {
	f      *os.File
	left   int64
	read   *atomic.Int64
	report func()
	since  int64
}

func newCountingFile(f *os.File, read *atomic.Int64, report func()) (*countingFile, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return &countingFile{f: f, left: fi.Size(), read: read, report: report}, nil
}

func (c *countingFile) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	c.left -= int64(n)
	c.read.Add(int64(n))
	if c.since += int64(n); c.since >= 1<<20 {
		c.since = 0
		c.report()
	}
	return n, err
}

func (c *countingFile) Len() int { return int(max(c.left, 0)) }

// tree is the source package: the template's source-template plus the
// signatures. New directories and signatures get the epoch as mtime, and
// so does each template directory that receives a new entry, as if the
// signatures had been written into a copy of the template at that time
// (dpkg-source clamps to the epoch anyway).
func (r *Result) tree() []pkggen.Entry {
	out := sourceTree(r.Template)
	idx := map[string]int{}
	for i, e := range out {
		if e.Mode.IsDir() {
			idx[e.Name] = i
		}
	}
	for _, it := range r.Items {
		p := it.SigPath()
		for d := path.Dir(p); ; d = path.Dir(d) {
			if i, ok := idx[d]; ok {
				out[i].ModTime = r.Epoch // it gains an entry
				break
			}
			if d == "." {
				break // no root entry: pkggen gives it the epoch
			}
			idx[d] = len(out)
			out = append(out, pkggen.Entry{Name: d, Mode: fs.ModeDir | 0o755, ModTime: r.Epoch})
		}
		out = append(out, pkggen.Entry{Name: p, Mode: 0o644, ModTime: r.Epoch, Data: it.Sig})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// sourceTree is the template's source-template as pkggen entries.
func sourceTree(t *template.Template) []pkggen.Entry {
	out := make([]pkggen.Entry, 0, len(t.Source))
	for _, e := range t.Source {
		out = append(out, pkggen.Entry{Name: e.Name, Mode: e.Mode, ModTime: e.ModTime, Data: e.Data})
	}
	return out
}
