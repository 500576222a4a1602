package queue

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"pault.ag/go/debian/control"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/inputfile"
)

// maxDsc bounds the .dsc (and .changes) checkOutput reads; the queue's
// are 1-3 KB.
const maxDsc = 1 << 20

// checksums is what checkOutput reads of a .dsc or .changes.
type checksums struct {
	control.Paragraph
	ChecksumsSha256 []control.SHA256FileHash `control:"Checksums-Sha256" delim:"\n" strip:"\n\r\t "`
}

// checkOutput checks a job's output directory out (named <base>, as its
// .dsc): it holds <base>.dsc and the files its Checksums-Sha256 names,
// each of the size and SHA-256 said, and nothing else but, with changes
// (and only then), <base>_source.changes, whose Checksums-Sha256 name
// the .dsc and those files, of their sizes and SHA-256.
func checkOutput(out string, changes bool) error {
	dscName := filepath.Base(out) + ".dsc"
	want := map[string]bool{dscName: true}
	if err := checkListed(out, dscName, want); err != nil {
		return err
	}
	if changes {
		name := filepath.Base(out) + "_source.changes"
		listed := map[string]bool{}
		if err := checkListed(out, name, listed); err != nil {
			return err
		}
		for f := range want {
			if !listed[f] {
				return &inputerr.Error{File: name, Field: "Checksums-Sha256", Offset: inputerr.NoOffset,
					Err: fmt.Errorf("does not name %s", inputerr.Name(f))}
			}
		}
		for f := range listed {
			if !want[f] {
				return &inputerr.Error{File: name, Field: "Checksums-Sha256", Offset: inputerr.NoOffset,
					Err: fmt.Errorf("names %s, which %s does not", inputerr.Name(f), dscName)}
			}
		}
		want[name] = true
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !want[e.Name()] {
			return fmt.Errorf("holds %s, which %s does not name", inputerr.Name(e.Name()), dscName)
		}
	}
	return nil
}

// checkListed reads out/name (a .dsc or .changes, clear-signed or not)
// and checks that each file its Checksums-Sha256 names is beside it, of
// the size and SHA-256 said; it adds their names to seen.
func checkListed(out, name string, seen map[string]bool) error {
	p := filepath.Join(out, name)
	f, err := inputfile.Open(p)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxDsc+1))
	f.Close()
	if err != nil {
		return err
	}
	if len(data) > maxDsc {
		return &inputerr.Error{File: name, Offset: inputerr.NoOffset, Err: fmt.Errorf("more than %d bytes", maxDsc)}
	}
	var c checksums
	if err := control.Unmarshal(&c, bufio.NewReader(bytes.NewReader(data))); err != nil {
		return &inputerr.Error{File: name, Offset: inputerr.NoOffset, Err: inputerr.Tame(err)}
	}
	if len(c.ChecksumsSha256) == 0 {
		return &inputerr.Error{File: name, Field: "Checksums-Sha256", Offset: inputerr.NoOffset, Err: errors.New("names no file")}
	}
	for _, c := range c.ChecksumsSha256 {
		fn := c.Filename
		if fn != filepath.Base(fn) || fn == "." || fn == ".." || strings.ContainsAny(fn, "\x00/") {
			return &inputerr.Error{File: name, Field: "Checksums-Sha256", Offset: inputerr.NoOffset,
				Err: fmt.Errorf("names %s, which is not a file beside it", inputerr.Name(fn))}
		}
		seen[fn] = true
		got, size, err := hashFile(filepath.Join(out, fn))
		if err != nil {
			return err
		}
		if size != c.Size || got != c.Hash {
			return &inputerr.Error{File: fn, Offset: inputerr.NoOffset,
				Err: fmt.Errorf("sha256 %s and size %d, but %s says %s and %d", got, size, name, c.Hash, c.Size)}
		}
	}
	return nil
}

// hashFile hashes the regular file p (inputfile.Open: a FIFO put in
// place of a template or an output file does not hang the run).
func hashFile(p string) (string, int64, error) {
	f, err := inputfile.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
