package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzVerify checks that Verify never panics, and that a log it passes
// is one Open takes and Append continues: the two readers agree.
func FuzzVerify(f *testing.F) {
	var good bytes.Buffer
	prev := Genesis
	for _, e := range entries("seed", 3) {
		line, err := encode(prev, e)
		if err != nil {
			f.Fatal(err)
		}
		good.Write(line)
		prev = hash(line)
	}
	f.Add(good.Bytes())
	f.Add(good.Bytes()[:good.Len()-1])
	f.Add(bytes.Replace(good.Bytes(), []byte(`"efi"`), []byte(`"EFI"`), 1))
	f.Add([]byte("\n"))
	f.Add([]byte(`{"prev":"` + Genesis + `"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "audit.log")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		n, err := Verify(path)
		if err != nil {
			return
		}
		if n != bytes.Count(data, []byte("\n")) {
			t.Fatalf("Verify = %d for %d lines", n, bytes.Count(data, []byte("\n")))
		}
		l, err := Open(path)
		if err != nil {
			t.Fatalf("Verify passed the log, Open refused it: %v", err)
		}
		defer l.Close()
		if err := l.Append(entries("fuzz", 1)); err != nil {
			t.Fatal(err)
		}
		if m, err := Verify(path); m != n+1 || err != nil {
			t.Fatalf("after an Append, Verify = %d, %v, want %d, nil", m, err, n+1)
		}
	})
}
