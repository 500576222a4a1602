// Package job runs mksigned's commands end to end: it reads the template
// and the packages, signs or checks signatures, and writes or verifies the
// -signed source package. cmd/mksigned only parses flags and calls it.
package job

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"pault.ag/go/debian/version"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/pkggen"
	"github.com/mksigned/mksigned/sign"
	"github.com/mksigned/mksigned/template"
)

// maxListedFile bounds one file to sign: the largest real ones are kernel
// images of about 10 MB.
const maxListedFile = 1 << 30

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
	Cert   *x509.Certificate
	Output string
	DryRun bool
	// SourceDateEpoch is $SOURCE_DATE_EPOCH; empty means the changelog's
	// top date.
	SourceDateEpoch string
}

// Item is one file to sign.
type Item struct {
	Package string // unsigned package name
	Deb     string // the .deb it came from
	File    template.File
	Size    int64
	Data    []byte
	Sig     []byte
}

// SigPath is where Item's signature lives in the source package.
func (it *Item) SigPath() string { return template.SignaturePath(it.Package, it.File.Path) }

// Result describes what Generate did or, for a dry run, would do.
type Result struct {
	Template *template.Template
	Items    []*Item // in files.json order
	Epoch    time.Time
	DSC, Tar string // output file names
	Written  []string
}

// Generate makes the -signed source package.
func Generate(opts GenerateOptions) (*Result, error) {
	r, err := Plan(opts)
	if err != nil || opts.DryRun {
		return r, err
	}
	for _, it := range r.Items {
		if err := obtainSignature(opts, r, it); err != nil {
			return nil, err
		}
	}
	tree := r.tree()
	written, err := pkggen.Write(opts.Output, tree, pkggen.Options{SourceDateEpoch: opts.SourceDateEpoch})
	if err != nil {
		return nil, err
	}
	r.Written = written
	return r, nil
}

// Plan checks everything that can be checked without a key: the template,
// that every package is given and satisfies the template's Build-Depends,
// and that every listed file is present, a regular file and of the kind its
// sig_type needs. It reads each package once and writes nothing.
func Plan(opts GenerateOptions) (*Result, error) {
	t, err := template.Load(opts.Template)
	if err != nil {
		return nil, err
	}
	// The tarball's mtimes and the signing time are one and the same epoch,
	// worked out as dpkg-source does.
	src, err := pkggen.ReadSource(sourceTree(t))
	if err != nil {
		return nil, inputerr.WithFile(err, t.Name+"/source-template")
	}
	epoch, err := pkggen.Epoch(src, opts.SourceDateEpoch)
	if err != nil {
		return nil, err
	}
	r := &Result{
		Template: t,
		Epoch:    epoch,
		DSC:      t.SourceName + "_" + withoutEpoch(t.Version) + ".dsc",
		Tar:      t.SourceName + "_" + withoutEpoch(t.Version) + ".tar.xz",
	}
	wanted := map[string]*template.Package{}
	for i := range t.Manifest.Packages {
		wanted[t.Manifest.Packages[i].Name] = &t.Manifest.Packages[i]
	}
	found := map[string][]*Item{}
	given := map[string]string{}
	for _, path := range opts.Unsigned {
		items, pkg, err := readUnsigned(path, wanted, t)
		if err != nil {
			return nil, err
		}
		if prev, dup := given[pkg]; dup {
			return nil, fmt.Errorf("%s and %s are both package %s: pass each package once", filepath.Base(prev), filepath.Base(path), pkg)
		}
		given[pkg] = path
		found[pkg] = items
	}
	for _, p := range t.Manifest.Packages {
		items, ok := found[p.Name]
		if !ok {
			return nil, fmt.Errorf("template %s signs files of package %s, but no --unsigned .deb is package %s", t.Name, p.Name, p.Name)
		}
		r.Items = append(r.Items, items...)
	}
	return r, nil
}

// readUnsigned reads one unsigned .deb as a stream, keeps the files the
// manifest lists for it, and stops as soon as it has them all.
func readUnsigned(debPath string, wanted map[string]*template.Package, t *template.Template) ([]*Item, string, error) {
	name := filepath.Base(debPath)
	var spec *template.Package
	var pkgName string
	byPath := map[string]*Item{}
	pkg, err := deb.ReadFile(debPath, func(p *deb.Package, e *deb.Entry, body io.Reader) error {
		if spec == nil {
			pkgName = p.Name
			spec = wanted[p.Name]
			if spec == nil {
				return errNotListed
			}
			for _, f := range spec.Files {
				byPath[f.Path] = nil
			}
		}
		it, listed := byPath[e.Path]
		if !listed {
			return nil
		}
		if it != nil {
			return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset, Err: errors.New("appears twice in data.tar")}
		}
		var f template.File
		for _, sf := range spec.Files {
			if sf.Path == e.Path {
				f = sf
			}
		}
		if e.Type != '0' && e.Type != '\x00' {
			what := fmt.Sprintf("not a regular file (tar type %q)", e.Type)
			switch e.Type {
			case '2':
				what = "a symbolic link to " + strconv.Quote(e.Linkname)
			case '1':
				what = "a hard link to " + strconv.Quote(e.Linkname)
			case '5':
				what = "a directory"
			}
			return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset,
				Err: fmt.Errorf("listed in files.json for signing, but is %s", what)}
		}
		if e.Size > maxListedFile {
			return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset, Err: fmt.Errorf("%d bytes is too large to sign", e.Size)}
		}
		data, err := io.ReadAll(body)
		if err != nil {
			return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset, Err: err}
		}
		if err := formats[f.SigType].check(data); err != nil {
			return &inputerr.Error{Path: e.Path, Offset: inputerr.NoOffset, Err: fmt.Errorf("sig_type %s: %w", f.SigType, err)}
		}
		byPath[e.Path] = &Item{Package: p.Name, Deb: debPath, File: f, Size: e.Size, Data: data}
		for _, it := range byPath {
			if it == nil {
				return nil
			}
		}
		return deb.ErrStop
	})
	if errors.Is(err, errNotListed) {
		return nil, "", fmt.Errorf("%s: package %s is not named in the template's files.json", name, pkgName)
	}
	if err != nil {
		return nil, "", inputerr.WithFile(err, name)
	}
	if spec == nil {
		if spec = wanted[pkg.Name]; spec == nil {
			return nil, "", fmt.Errorf("%s: package %s is not named in the template's files.json", name, pkg.Name)
		}
	}
	v, err := version.Parse(pkg.Version)
	if err != nil {
		return nil, "", &inputerr.Error{File: name, Member: "control", Field: "Version", Offset: inputerr.NoOffset, Err: err}
	}
	if err := t.CheckVersion(pkg.Name, v, pkg.Architecture); err != nil {
		return nil, "", inputerr.WithFile(err, name)
	}
	var items []*Item
	for _, f := range spec.Files {
		it := byPath[f.Path]
		if it == nil {
			return nil, "", &inputerr.Error{File: name, Member: "data.tar", Path: f.Path, Offset: inputerr.NoOffset,
				Err: errors.New("listed in files.json but not in the package")}
		}
		items = append(items, it)
	}
	return items, pkg.Name, nil
}

var errNotListed = errors.New("package not listed")

// obtainSignature signs it, or reads its signature from opts.Signatures and
// checks it against the file.
func obtainSignature(opts GenerateOptions, r *Result, it *Item) error {
	f := formats[it.File.SigType]
	if opts.Signatures == "" {
		d, err := f.digest(it.Data)
		if err != nil {
			return err
		}
		sig, err := f.sign(opts.Key, d, r.Epoch)
		if err != nil {
			return fmt.Errorf("signing %s %s: %w", it.Package, it.File.Path, err)
		}
		it.Sig = sig
		return nil
	}
	rel := it.Package + "/" + it.File.Path + ".sig"
	sig, err := readSignature(opts.Signatures, rel)
	if err != nil {
		return err
	}
	if it.File.SigType == template.LinuxModule && opts.Cert == nil {
		return fmt.Errorf("%s: linux-module signatures carry no certificate: pass --cert to check them against the files", filepath.Join(opts.Signatures, rel))
	}
	if err := f.verify(it.Data, sig, opts.Cert); err != nil {
		return fmt.Errorf("%s does not match %s %s: %w", filepath.Join(opts.Signatures, rel), it.Package, it.File.Path, err)
	}
	it.Sig = sig
	return nil
}

func readSignature(dir, rel string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	fi, err := root.Lstat(rel)
	if err != nil {
		return nil, fmt.Errorf("signature for %s: %w", rel, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxSignature {
		return nil, fmt.Errorf("%s: not a regular file of at most %d bytes", filepath.Join(dir, rel), maxSignature)
	}
	return root.ReadFile(rel)
}

// tree is the source package: the template's source-template plus the
// signatures. New directories and signatures get the epoch as mtime.
func (r *Result) tree() []pkggen.Entry {
	out := sourceTree(r.Template)
	dirs := map[string]bool{}
	for _, e := range r.Template.Source {
		if e.Mode.IsDir() {
			dirs[e.Name] = true
		}
	}
	for _, it := range r.Items {
		for d := path.Dir(it.SigPath()); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			out = append(out, pkggen.Entry{Name: d, Mode: fs.ModeDir | 0o755, ModTime: r.Epoch})
		}
		out = append(out, pkggen.Entry{Name: it.SigPath(), Mode: 0o644, ModTime: r.Epoch, Data: it.Sig})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func withoutEpoch(v version.Version) string {
	v.Epoch = 0
	return v.String()
}

// sourceTree is the template's source-template as pkggen entries.
func sourceTree(t *template.Template) []pkggen.Entry {
	out := make([]pkggen.Entry, 0, len(t.Source))
	for _, e := range t.Source {
		out = append(out, pkggen.Entry{Name: e.Name, Mode: e.Mode, ModTime: e.ModTime, Data: e.Data})
	}
	return out
}
