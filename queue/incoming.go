package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"pault.ag/go/debian/version"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/inputfile"
	"github.com/mksigned/mksigned/job"
	"github.com/mksigned/mksigned/template"
)

// TemplateSuffix ends the name of every template package.
const TemplateSuffix = "-signed-template"

// incomingDeb is one .deb of the incoming directory, its control read.
type incomingDeb struct {
	path string
	pkg  *deb.Package
	ver  version.Version
}

// incoming is what one pass found: template packages, the other packages
// by name, and the files that are not packages at all.
type incoming struct {
	templates []*incomingDeb
	byName    map[string][]*incomingDeb
	bad       []Item
}

// scan lists dir once. Only regular files named *.deb, not starting with
// ".", are read: an uploader writes a file under another name and renames
// it when complete. A *.deb whose control cannot be read is a failure of
// this pass, not recorded (it may be a file still being written, by an
// uploader that does not rename).
func scan(ctx context.Context, dir string) (*incoming, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--incoming: %w", err)
	}
	in := &incoming{byName: map[string][]*incomingDeb{}}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".deb") || strings.HasPrefix(name, ".") || !e.Type().IsRegular() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := filepath.Join(dir, name)
		pkg, err := deb.ReadControlContext(ctx, p)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			in.bad = append(in.bad, Item{File: name, Reason: inputerr.WithFile(err, name).Error()})
			continue
		}
		v, err := version.Parse(pkg.Version)
		if err != nil {
			in.bad = append(in.bad, Item{File: name, Reason: (&inputerr.Error{File: name, Member: "control", Field: "Version", Offset: inputerr.NoOffset, Err: err}).Error()})
			continue
		}
		d := &incomingDeb{path: p, pkg: pkg, ver: v}
		if strings.HasSuffix(pkg.Name, TemplateSuffix) {
			in.templates = append(in.templates, d)
		} else {
			in.byName[pkg.Name] = append(in.byName[pkg.Name], d)
		}
	}
	return in, nil
}

// outputName is where t's source package goes: <Source>_<version without
// epoch>, the base name of its .dsc.
func outputName(t *template.Template) string {
	v := t.Version
	v.Epoch = 0
	return t.SourceName + "_" + v.String()
}

// match finds, for each package t signs files of, the incoming package of
// that name its Build-Depends accept: the version they pin, built for an
// architecture the signed package builds for. It returns the .debs, or
// what is missing, one line per package.
func (in *incoming) match(t *template.Template) (debs, missing []string, err error) {
	archs, err := job.Architectures(t)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range t.Manifest.Packages {
		var seen []string
		var found *incomingDeb
		for _, d := range in.byName[p.Name] {
			why := ""
			if err := job.CheckArchitecture(archs, d.pkg.Architecture); err != nil {
				why = err.Error()
			} else if err := t.CheckVersion(p.Name, d.ver, d.pkg.Architecture); err != nil {
				why = "Build-Depends want another version"
				var ie *inputerr.Error
				if errors.As(err, &ie) {
					why = ie.Err.Error()
				}
			}
			if why == "" {
				if found == nil || d.path < found.path {
					found = d
				}
				continue
			}
			seen = append(seen, fmt.Sprintf("%s %s (%s): %s", p.Name, d.pkg.Version, filepath.Base(d.path), why))
		}
		switch {
		case found != nil:
			debs = append(debs, found.path)
		case len(seen) == 0:
			missing = append(missing, p.Name+": not in the incoming directory")
		default:
			sort.Strings(seen)
			missing = append(missing, seen...)
		}
	}
	return debs, missing, nil
}

// maxTemplateDeb bounds a template package: template.Load refuses more
// than 32 MiB of contents, compressed far smaller.
const maxTemplateDeb = 64 << 20

// snapshot copies the template package p into a new private directory,
// under the same base name, hashing it on the way, and returns the copy's
// path and the SHA-256. The job's key, the template loaded and the one
// signed are then the same bytes, whatever is renamed over p meanwhile
// (a template replaced in the incoming directory while its job runs
// would otherwise be signed under the old bytes' key, past the check
// that the same name and version with other bytes is a conflict).
// remove removes the copy.
func snapshot(p string) (copyPath, sum string, remove func(), err error) {
	f, err := inputfile.Open(p)
	if err != nil {
		return "", "", nil, err
	}
	defer f.Close()
	dir, err := os.MkdirTemp("", "mksigned-template-")
	if err != nil {
		return "", "", nil, err
	}
	remove = func() { os.RemoveAll(dir) }
	copyPath = filepath.Join(dir, filepath.Base(p))
	w, err := os.OpenFile(copyPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		remove()
		return "", "", nil, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(f, maxTemplateDeb+1))
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > maxTemplateDeb {
		err = &inputerr.Error{File: p, Offset: inputerr.NoOffset, Err: fmt.Errorf("is more than %d bytes, the most a template package may be", maxTemplateDeb)}
	}
	if err != nil {
		remove()
		return "", "", nil, err
	}
	return copyPath, hex.EncodeToString(h.Sum(nil)), remove, nil
}
