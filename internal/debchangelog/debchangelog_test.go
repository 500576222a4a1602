package debchangelog

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"

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
