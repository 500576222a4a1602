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
)

// maxDsc bounds the .dsc checkOutput reads; the queue's are 1-2 KB.
const maxDsc = 1 << 20

// checkOutput checks a job's output directory out (named <base>, as its
// .dsc): it holds <base>.dsc and the files its Checksums-Sha256 names,
// each of the size and SHA-256 said, and nothing else.
func checkOutput(out string) error {
	dscName := filepath.Base(out) + ".dsc"
	dscPath := filepath.Join(out, dscName)
	f, err := os.Open(dscPath)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxDsc+1))
	f.Close()
	if err != nil {
		return err
	}
	if len(data) > maxDsc {
		return &inputerr.Error{File: dscName, Offset: inputerr.NoOffset, Err: fmt.Errorf("more than %d bytes", maxDsc)}
	}
	dsc, err := control.ParseDsc(bufio.NewReader(bytes.NewReader(data)), dscPath)
	if err != nil {
		return &inputerr.Error{File: dscName, Offset: inputerr.NoOffset, Err: inputerr.Tame(err)}
	}
	if len(dsc.ChecksumsSha256) == 0 {
		return &inputerr.Error{File: dscName, Field: "Checksums-Sha256", Offset: inputerr.NoOffset, Err: errors.New("names no file")}
	}
	want := map[string]bool{dscName: true}
	for _, c := range dsc.ChecksumsSha256 {
		name := c.Filename
		if name != filepath.Base(name) || name == "." || name == ".." || strings.ContainsAny(name, "\x00/") {
			return &inputerr.Error{File: dscName, Field: "Checksums-Sha256", Offset: inputerr.NoOffset,
				Err: fmt.Errorf("names %s, which is not a file beside it", inputerr.Name(name))}
		}
		want[name] = true
		got, size, err := hashFile(filepath.Join(out, name))
		if err != nil {
			return err
		}
		if size != c.Size || got != c.Hash {
			return &inputerr.Error{File: name, Offset: inputerr.NoOffset,
				Err: fmt.Errorf("sha256 %s and size %d, but %s says %s and %d", got, size, dscName, c.Hash, c.Size)}
		}
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

func hashFile(p string) (string, int64, error) {
	f, err := os.Open(p)
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
