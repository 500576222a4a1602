package template

import (
	"io/fs"
	"path"
	"sort"
	"time"
)

// FromFiles checks a template given as the files of a code-signing
// directory (as Spec.BuildDir returns them: slash paths relative to the
// directory, "files.json" and "source-template/..."), as LoadDir would
// read them once atomicfile.WriteDir has written them: files of mode
// 0644 in directories of mode 0755, every one modified at mtime. name is
// the template's name, and what its errors name (see SourceError).
func FromFiles(name string, files map[string][]byte, mtime time.Time) (*Template, error) {
	var entries []Entry
	dirs := map[string]bool{}
	for p, data := range files {
		entries = append(entries, Entry{Name: p, Mode: 0o644, ModTime: mtime, Data: data})
		for d := path.Dir(p); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			entries = append(entries, Entry{Name: d, Mode: fs.ModeDir | 0o755, ModTime: mtime})
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	t, err := Parse(name, entries)
	if err != nil {
		return nil, err
	}
	t.origin = name
	return t, nil
}
