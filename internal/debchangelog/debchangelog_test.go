package debchangelog

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mksigned/mksigned/internal/inputerr"
	"github.com/mksigned/mksigned/internal/testutil"
)

func TestParseTopDates(t *testing.T) {
	t.Parallel()
	for _, date := range []string{
		"Fri, 27 Jan 2023 09:15:57 -0600",
		"Mon, 1 Jan 2020 00:00:00 +0000",
		"Mon,  1 Jan 2020 00:00:00 +0000",
		"Wed, 09 Sep 2020 12:00:00 +0200",
	} {
		cl := "x (1.0) unstable; urgency=medium\n\n  * y\n\n -- A B <a@example.org>  " + date + "\n"
		e, err := ParseTop([]byte(cl))
		if err != nil {
			t.Errorf("%q: %v", date, err)
			continue
		}
		// dpkg-parsechangelog is the reference.
		want := dpkgTimestamp(t, cl)
		if e.When.Unix() != want {
			t.Errorf("%q: %d, dpkg-parsechangelog says %d", date, e.When.Unix(), want)
		}
	}
}

func dpkgTimestamp(t *testing.T, cl string) int64 {
	t.Helper()
	p := testutil.RequireTool(t, "dpkg-parsechangelog")
	cmd := exec.Command(p, "-l-", "-STimestamp")
	cmd.Stdin = strings.NewReader(cl)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-parsechangelog: %v", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestParseTopLongChangelog: only the top entry counts, however long the
// rest is and whatever it holds (here an older entry with a one-digit day
// and one that is malformed), and the result is what dpkg-parsechangelog
// says of the whole file.
func TestParseTopLongChangelog(t *testing.T) {
	t.Parallel()
	top := "linux-signed-amd64 (6.1.192+3) bookworm-security; urgency=high\n\n  * Sign kernel from linux 6.1.192-3\n\n -- Debian signing service <ftpmaster@debian.org>  Sat, 14 Nov 2026 10:11:12 +0000\n"
	older := "\nlinux-signed-amd64 (6.1.191+1) bookworm; urgency=medium\n\n  * x\n\n -- A B <a@example.org>  Mon, 1 Jun 2026 00:00:00 +0000\n\nbroken entry\n -- nobody\n"
	cl := top + strings.Repeat(older, 2000)
	for name, in := range map[string]string{"whole": cl, "top only": top} {
		e, err := ParseTop([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if e.Version.String() != "6.1.192+3" || e.When.Unix() != dpkgTimestamp(t, cl) {
			t.Errorf("%s: version %s, time %d; want 6.1.192+3 and dpkg-parsechangelog's %d", name, e.Version, e.When.Unix(), dpkgTimestamp(t, cl))
		}
	}
	if got := string(topEntry([]byte(cl))); got != top {
		t.Errorf("topEntry = %q, want %q", got, top)
	}
}

func BenchmarkParseTopLinux(b *testing.B) {
	top := "linux-signed-amd64 (6.1.192+3) bookworm-security; urgency=high\n\n  * Sign kernel\n\n -- Debian signing service <ftpmaster@debian.org>  Sat, 14 Nov 2026 10:11:12 +0000\n"
	cl := []byte(top + strings.Repeat("\nlinux (6.1.1-1) unstable; urgency=medium\n\n  * A change of the kernel that is described at some length.\n\n -- A B <a@example.org>  Mon, 01 Jun 2026 00:00:00 +0000\n", 30000))
	b.SetBytes(int64(len(cl)))
	for b.Loop() {
		if _, err := ParseTop(cl); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseTopErrors: each malformed changelog is said in words (never a
// bare EOF), and a long value is cut, not echoed whole.
func TestParseTopErrors(t *testing.T) {
	t.Parallel()
	const header = "x (1.0) unstable; urgency=medium\n\n  * y\n\n"
	long := strings.Repeat("9", 1<<20)
	for _, c := range []struct{ name, in, want string }{
		{"empty", "", "the changelog is empty"},
		{"blank lines", "\n\n", "the changelog is empty"},
		{"indented first line", "  * y\n", `first line "  * y" is indented`},
		{"no trailer", header, "no trailer line"},
		{"trailer without newline", header + " -- A <a@example.org>  Mon, 01 Jan 2020 00:00:00 +0000", "no trailer line"},
		{"line not indented", header + "stray\n -- A <a@example.org>  Mon, 01 Jan 2020 00:00:00 +0000\n", `line "stray" is not indented`},
		{"bad date", header + " -- A <a@example.org>  yesterday\n", `trailer line: date "yesterday" is not of the form "Mon, 02 Jan 2006 15:04:05 -0700"`},
		{"1 MB date", header + " -- A <a@example.org>  Mon, 01 Jan 2020 00:00:00 +0000" + long + "\n",
			`trailer line: date "Mon, 01 Jan 2020 00:00:00 +0000` + long[:inputerr.MaxValue-31] + `"... (1048607 bytes) is not of the form`},
	} {
		_, err := ParseTop([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) || len(err.Error()) > 400 {
			msg := "<nil>"
			if err != nil {
				msg = err.Error()
			}
			t.Errorf("%s: %.300q (%d bytes), want a message of at most 400 bytes saying %.200q", c.name, msg, len(msg), c.want)
		}
	}
}

// TestParseTopLinear: a top entry of 160,000 lines (960 KB) is parsed in
// well under a second (10 s allowed: -race on a loaded CI machine took 4.7 s). pault's parser appends each line to a string: that
// took 55 s.
func TestParseTopLinear(t *testing.T) {
	t.Parallel()
	cl := []byte("x (1.0) unstable; urgency=medium\n\n" + strings.Repeat("  * y\n", 160000) +
		"\n -- A B <a@example.org>  Mon, 1 Jan 2020 00:00:00 +0000\n")
	start := time.Now()
	e, err := ParseTop(cl)
	took := time.Since(start)
	if err != nil || e.Version.String() != "1.0" {
		t.Fatalf("ParseTop = %v, %v; want version 1.0", e, err)
	}
	if took > 10*time.Second {
		t.Errorf("ParseTop of a %d-byte top entry took %v, want under 10 s (linear time)", len(cl), took)
	}
}
