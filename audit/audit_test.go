package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// entries returns n entries told apart by tag and their index.
func entries(tag string, n int) []Entry {
	es := make([]Entry, n)
	for i := range es {
		es[i] = Entry{
			Time:            time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600)),
			KeySHA256:       strings.Repeat("ab", 32),
			Requester:       tag,
			Template:        "fwupd-amd64-signed-template",
			TemplateVersion: "1.7.9+1",
			Package:         "fwupd-unsigned",
			PackageVersion:  "1.7.9-1",
			Path:            fmt.Sprintf("usr/lib/fwupd/efi/fwupd%d.efi", i),
			SigType:         "efi",
			DigestAlgorithm: "sha256",
			Digest:          strings.Repeat("cd", 32),
			SignatureSHA256: strings.Repeat("ef", 32),
		}
	}
	return es
}

// newLog returns the path of a log of n records, appended in batches of
// at most 3.
func newLog(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 3 {
		if err := l.Append(entries(fmt.Sprint("batch", i), min(3, n-i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(data, []byte("\n"))[:bytes.Count(data, []byte("\n"))]
}

func sum(line []byte) string {
	h := sha256.Sum256(line)
	return hex.EncodeToString(h[:])
}

// The chain and the line format, checked here without the package's own
// parse and hash.
func TestFormat(t *testing.T) {
	t.Parallel()
	path := newLog(t, 5)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, want 0600", fi.Mode().Perm())
	}
	lines := readLines(t, path)
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5", len(lines))
	}
	wantKeys := []string{"prev", "time", "key_sha256", "requester", "template", "template_version", "package", "package_version",
		"path", "sig_type", "digest_algorithm", "digest", "signature_sha256"}
	prev := strings.Repeat("0", 64)
	for i, line := range lines {
		var got []string
		dec := json.NewDecoder(bytes.NewReader(line))
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		var m = map[string]string{}
		for dec.More() {
			k, _ := dec.Token()
			v, _ := dec.Token()
			got = append(got, k.(string))
			m[k.(string)] = fmt.Sprint(v)
		}
		if d := cmp.Diff(wantKeys, got); d != "" {
			t.Errorf("line %d: members (-want +got):\n%s", i+1, d)
		}
		if m["prev"] != prev {
			t.Errorf("line %d: prev %s, want %s", i+1, m["prev"], prev)
		}
		if want := "2026-01-02T02:04:05Z"; m["time"] != want {
			t.Errorf("line %d: time %s, want %s (UTC)", i+1, m["time"], want)
		}
		prev = sum(line)
	}
	if n, err := Verify(path); n != 5 || err != nil {
		t.Errorf("Verify = %d, %v, want 5, nil", n, err)
	}
}

// openLog opens the log at path, to be closed at the end of the test.
func openLog(t *testing.T, path string) *Log {
	t.Helper()
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// A second Open continues the chain, and a zero Time is filled in.
func TestReopen(t *testing.T) {
	t.Parallel()
	path := newLog(t, 2)
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().UTC().Add(-time.Second)
	if err := l.Append([]Entry{{Package: "p", Path: "a"}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(nil); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if n, err := Verify(path); n != 3 || err != nil {
		t.Errorf("Verify = %d, %v, want 3, nil", n, err)
	}
	lines := readLines(t, path)
	rec, err := parse(lines[2])
	if err != nil {
		t.Fatal(err)
	}
	if rec.Time.Before(before) || rec.Time.Location() != time.UTC {
		t.Errorf("time of an entry without one = %v, want about now in UTC", rec.Time)
	}
}

// Every change to a log that the chain can show, shows, naming the line.
func TestVerifyDetects(t *testing.T) {
	t.Parallel()
	// edit re-encodes line i (0-based) with one field changed, as a
	// careful forger would: the line itself is well formed.
	edit := func(lines [][]byte, i int) {
		rec, err := parse(lines[i])
		if err != nil {
			panic(err)
		}
		rec.Digest = strings.Repeat("00", 32)
		if lines[i], err = encode(rec.Prev, rec.Entry); err != nil {
			panic(err)
		}
	}
	for _, tc := range []struct {
		name   string
		change func([][]byte) [][]byte
		n      int    // records before the bad one
		want   string // the message after the path
	}{
		{"intact", func(l [][]byte) [][]byte { return l }, 5, ""},
		{"edited line", func(l [][]byte) [][]byte { edit(l, 1); return l }, 2,
			"line 3: prev does not match the SHA-256 of line 2: line 2 was edited, or lines were removed or reordered there"},
		{"edited first line", func(l [][]byte) [][]byte { edit(l, 0); return l }, 1, "line 2: prev does not match the SHA-256 of line 1"},
		{"edited by hand", func(l [][]byte) [][]byte {
			l[4] = bytes.Replace(l[4], []byte(`,"path"`), []byte(`, "path"`), 1)
			return l
		}, 4, "line 5: not in the form mksigned writes: edited by hand?"},
		{"member repeated", func(l [][]byte) [][]byte {
			l[4] = bytes.Replace(l[4], []byte(`,"path"`), []byte(`,"sig_type":"efi","path"`), 1)
			return l
		}, 4, "line 5: not in the form mksigned writes: edited by hand?"},
		{"removed line", func(l [][]byte) [][]byte { return append(l[:2], l[3:]...) }, 2, "line 3: prev does not match the SHA-256 of line 2"},
		{"removed first line", func(l [][]byte) [][]byte { return l[1:] }, 0,
			"line 1: prev is "},
		{"reordered pair", func(l [][]byte) [][]byte { l[1], l[2] = l[2], l[1]; return l }, 1, "line 2: prev does not match the SHA-256 of line 1"},
		{"truncated last line", func(l [][]byte) [][]byte { l[4] = l[4][:len(l[4])/2]; return l }, 4,
			"line 5: cut off: the log does not end in a newline"},
		{"last newline cut", func(l [][]byte) [][]byte { l[4] = l[4][:len(l[4])-1]; return l }, 4, "line 5: cut off"},
		{"garbage line appended", func(l [][]byte) [][]byte { return append(l, []byte("garbage\n")) }, 5,
			"line 6: not a record: invalid character 'g' looking for beginning of value"},
		{"garbage without a newline", func(l [][]byte) [][]byte { return append(l, []byte("{")) }, 5, "line 6: cut off"},
		{"empty line", func(l [][]byte) [][]byte { return append(l[:3:3], append([][]byte{[]byte("\n")}, l[3:]...)...) }, 3,
			"line 4: not a record: an empty line"},
		{"unknown member", func(l [][]byte) [][]byte {
			l[4] = bytes.Replace(l[4], []byte(`,"path"`), []byte(`,"pathh":"x","path"`), 1)
			return l
		}, 4, `line 5: not a record: json: unknown field "pathh"`},
		{"bad prev", func(l [][]byte) [][]byte { l[0] = bytes.Replace(l[0], []byte(`"0000`), []byte(`"X000`), 1); return l }, 0,
			`line 1: prev "X` + strings.Repeat("0", 63) + `" is not a SHA-256 (64 lower-case hex digits)`},
		{"two records on a line", func(l [][]byte) [][]byte { l[3] = append(bytes.TrimSuffix(l[3], []byte("\n")), l[4]...); return l[:4] }, 3,
			"line 4: not in the form mksigned writes"},
		{"line too long", func(l [][]byte) [][]byte { return append(l, bytes.Repeat([]byte(" "), MaxLine+1)) }, 5,
			"line 6: longer than 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := newLog(t, 5)
			lines := tc.change(readLines(t, path))
			if err := os.WriteFile(path, bytes.Join(lines, nil), 0o600); err != nil {
				t.Fatal(err)
			}
			n, err := Verify(path)
			if tc.want == "" {
				if err != nil || n != tc.n {
					t.Errorf("Verify = %d, %v, want %d, nil", n, err, tc.n)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), path+": "+tc.want) {
				t.Errorf("Verify error:\n%v\nwant it to start:\n%s: %s", err, path, tc.want)
			}
			if n != tc.n {
				t.Errorf("Verify counted %d records, want %d", n, tc.n)
			}
		})
	}
}

func TestVerifyEmptyAndMissing(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.log")
	if _, err := Verify(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Verify of a missing log: %v, want ErrNotExist", err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := Verify(path); n != 0 || err != nil {
		t.Errorf("Verify of an empty log = %d, %v, want 0, nil", n, err)
	}
	if _, err := Verify(filepath.Dir(path)); err == nil {
		t.Errorf("Verify of a directory gave no error")
	}
}

// Open refuses a log whose end is not intact, and changes nothing.
func TestOpenRefusesCorruptTail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, tail, want string
	}{
		// Cut off, but not where Append's next record would start (its
		// prev is the last line's hash): not a killed write, kept.
		{"cut off", `{"prev":"zz`, "the last line is cut off: the log does not end in a newline"},
		{"cut off, another chain", `{"prev":"` + strings.Repeat("0", 64) + `","time"`, "the last line is cut off: the log does not end in a newline"},
		{"garbage", "garbage\n", "the last line: not a record: invalid character 'g'"},
		{"empty line", "\n", "the last line: not a record: an empty line"},
		{"unknown member", `{"prev":"` + strings.Repeat("0", 64) + `","x":1}` + "\n", `the last line: not a record: json: unknown field "x"`},
		{"too long", strings.Repeat("x", MaxLine) + "\n", "the last line is longer than 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := newLog(t, 2)
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(tc.tail)
			f.Close()
			before, _ := os.ReadFile(path)
			l, err := Open(path)
			if err == nil {
				l.Close()
				t.Fatalf("Open of a log ending %q gave no error", tc.tail)
			}
			if !strings.Contains(err.Error(), "corrupt audit log: "+tc.want) || !strings.HasPrefix(err.Error(), path+": offset ") {
				t.Errorf("Open error:\n%v\nwant the path, an offset and %q", err, tc.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Errorf("Open changed the corrupt log")
			}
		})
	}
}

// A record a killed writer left unfinished (Linux ends a write short on
// SIGKILL) is cut off at Open, at any length, and the log goes on: the
// chain verifies, and the next Append follows the last whole line.
func TestOpenCutsTorn(t *testing.T) {
	t.Parallel()
	path := newLog(t, 2)
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(whole, []byte("\n"))
	next, err := encode(hash(lines[len(lines)-2]), Entry{Time: time.Unix(1700000000, 0).UTC(), Package: "p", PackageVersion: "1", Path: "x.efi", SigType: "efi", Digest: strings.Repeat("a", 64), SignatureSHA256: strings.Repeat("b", 64), KeySHA256: strings.Repeat("c", 64)})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 9, 20, len(next) / 2, len(next) - 1} {
		if err := os.WriteFile(path, append(append([]byte{}, whole...), next[:n]...), 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := Open(path)
		if err != nil {
			t.Fatalf("Open with %d bytes of a torn record: %v", n, err)
		}
		if l.Cut != int64(n) {
			t.Errorf("Open cut %d bytes, want %d", l.Cut, n)
		}
		l.Close()
		if after, _ := os.ReadFile(path); !bytes.Equal(after, whole) {
			t.Errorf("after Open with %d torn bytes the log is %q, want the whole lines only", n, after)
		}
		if got, err := Verify(path); got != 2 || err != nil {
			t.Errorf("Verify after the cut = %d, %v; want 2, nil", got, err)
		}
	}
}

// A log that cannot be written is refused at Open, before anything is
// signed; none is created in its place.
func TestOpenRefusesUnwritable(t *testing.T) {
	t.Parallel()
	t.Run("directory", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if _, err := Open(dir); !errors.Is(err, syscall.EISDIR) {
			t.Errorf("Open of a directory: %v, want EISDIR", err)
		}
	})
	t.Run("no directory", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "missing", "audit.log")
		if _, err := Open(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Open in a missing directory: %v, want ErrNotExist", err)
		}
	})
	t.Run("dangling link", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		path := filepath.Join(dir, "audit.log")
		if err := os.Symlink(filepath.Join(dir, "gone"), path); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Open of a dangling link: %v, want ErrNotExist", err)
		}
		if _, err := os.Lstat(filepath.Join(dir, "gone")); err == nil {
			t.Errorf("Open created the file a dangling link points to: a new chain")
		}
	})
	t.Run("fifo", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "audit.log")
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Open of a FIFO: %v, want not a regular file", err)
		}
	})
	t.Run("read-only file", func(t *testing.T) {
		t.Parallel()
		path := newLog(t, 1)
		readOnly(t, path)
		if _, err := Open(path); !errors.Is(err, os.ErrPermission) {
			t.Errorf("Open of a read-only log: %v, want a permission error", err)
		}
	})
}

// readOnly makes path unwritable: chmod 0400 for a user, chattr +i for
// root, whom file modes do not stop.
func readOnly(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, 0o400); err != nil {
			t.Fatal(err)
		}
		return
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("running as root, and chattr +i failed (%v: %s): cannot make a file unwritable here", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })
}

// An entry too long for a line is refused, and the others of its batch
// are not written either.
func TestAppendRefusesLongEntry(t *testing.T) {
	t.Parallel()
	path := newLog(t, 1)
	l := openLog(t, path)
	es := entries("x", 3)
	es[2].Path = strings.Repeat("a", MaxLine)
	if err := l.Append(es); err == nil || !strings.Contains(err.Error(), "entry 2 (fwupd-unsigned ") ||
		!strings.Contains(err.Error(), "more than the 65536 an audit log line may have") {
		t.Errorf("Append error %v, want entry 2 too long", err)
	}
	if n, err := Verify(path); n != 1 || err != nil {
		t.Errorf("Verify = %d, %v, want 1, nil: nothing written", n, err)
	}
}

// Append reads the end again: a record another Log appended since is
// chained to, not forked from.
func TestAppendAfterAnother(t *testing.T) {
	t.Parallel()
	path := newLog(t, 1)
	a := openLog(t, path)
	b := openLog(t, path)
	for i := range 3 {
		if err := a.Append(entries("a", i+1)); err != nil {
			t.Fatal(err)
		}
		if err := b.Append(entries("b", 1)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := Verify(path); n != 1+6+3 || err != nil {
		t.Errorf("Verify = %d, %v, want 10, nil", n, err)
	}
}

// A log moved away or replaced since Open is not appended to.
func TestAppendReplaced(t *testing.T) {
	t.Parallel()
	path := newLog(t, 1)
	l := openLog(t, path)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(entries("x", 1)); err == nil || !strings.Contains(err.Error(), "no longer the file opened") {
		t.Errorf("Append after a rename: %v, want no longer the file opened", err)
	}
	if n, _ := Verify(path + ".1"); n != 1 {
		t.Errorf("the moved log has %d records, want 1", n)
	}
}

// Append fsyncs the log before returning, and a failed fsync is an
// error; a new log's directory is fsynced too.
func TestSync(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	var synced []string
	var fail error
	sync := func(f *os.File) error {
		synced = append(synced, f.Name())
		return fail
	}
	l, err := open(context.Background(), path, sync)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if d := cmp.Diff([]string{dir}, synced); d != "" {
		t.Errorf("fsynced on creation (-want +got):\n%s", d)
	}
	synced = nil
	if err := l.Append(entries("x", 2)); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{path}, synced); d != "" {
		t.Errorf("fsynced on Append (-want +got):\n%s", d)
	}
	fail = errors.New("disk on fire")
	if err := l.Append(entries("x", 1)); err == nil || !strings.Contains(err.Error(), "fsync: disk on fire") {
		t.Errorf("Append with a failing fsync: %v, want the fsync error", err)
	}
	synced = nil
	l2, err := open(context.Background(), path, sync)
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
	if len(synced) != 0 {
		t.Errorf("opening an existing log fsynced %v, want nothing", synced)
	}
}

// A log made append-only with chattr +a (root only) is opened and
// appended to as any other.
func TestAppendOnlyAttribute(t *testing.T) {
	t.Parallel()
	path := newLog(t, 1)
	if os.Geteuid() != 0 {
		t.Skip("chattr +a needs root")
	}
	if out, err := exec.Command("chattr", "+a", path).CombinedOutput(); err != nil {
		t.Skipf("chattr +a failed (%v: %s)", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-a", path).Run() })
	l := openLog(t, path)
	if err := l.Append(entries("x", 2)); err != nil {
		t.Fatal(err)
	}
	if n, err := Verify(path); n != 3 || err != nil {
		t.Errorf("Verify = %d, %v, want 3, nil", n, err)
	}
	if err := os.WriteFile(path, nil, 0o600); err == nil {
		t.Errorf("truncating an append-only log worked: the test proves nothing")
	}
}
