package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"pault.ag/go/debian/version"

	"github.com/mksigned/mksigned/deb"
	"github.com/mksigned/mksigned/internal/inputerr"
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

// fileSHA256 hashes a file.
func fileSHA256(p string) (string, error) {
	sum, _, err := hashFile(p)
	return sum, err
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
