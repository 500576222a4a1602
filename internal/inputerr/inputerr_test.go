package inputerr

import (
	"errors"
	"strings"
	"testing"
)

func TestName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"usr/lib/shim/fbx64.efi":           "usr/lib/shim/fbx64.efi",
		"linux-image-6.12.117+deb12-amd64": "linux-image-6.12.117+deb12-amd64",
		"a\nb":                             `"a\nb"`,
		"n\x1b[2K\rok":                     `"n\x1b[2K\rok"`,
		"two words":                        `"two words"`,
		`a"b`:                              `"a\"b"`,
		"caf\xe9":                          `"caf\xe9"`,
		"café":                             "café",
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %s, want %s", in, got, want)
		}
	}
	e := &Error{File: "x.deb", Path: "evil\nmksigned: wrote /etc/passwd", Offset: NoOffset, Err: errors.New("bad")}
	if got := e.Error(); strings.Contains(got, "\n") || !strings.Contains(got, `"evil\nmksigned: wrote /etc/passwd"`) {
		t.Errorf("Error() = %q, want the path quoted on one line", got)
	}
}

func TestValue(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 1<<20)
	for _, c := range []struct{ in, want string }{
		{"Fri, 27 Jan 2023", `"Fri, 27 Jan 2023"`},
		{"a\nb", `"a\nb"`},
		{strings.Repeat("y", MaxValue), `"` + strings.Repeat("y", MaxValue) + `"`},
		{long, `"` + strings.Repeat("x", MaxValue) + `"... (1048576 bytes)`},
		// A character across the cut is left out whole.
		{strings.Repeat("y", MaxValue-1) + "é" + long, `"` + strings.Repeat("y", MaxValue-1) + `"... (1048657 bytes)`},
	} {
		if got := Value(c.in); got != c.want {
			t.Errorf("Value(%.20q...) = %.200s, want %s", c.in, got, c.want)
		}
	}
}

func TestTame(t *testing.T) {
	t.Parallel()
	cause := errors.New("Bad line: '" + strings.Repeat("z", 1<<20) + "\n' has no ':'")
	err := Tame(cause)
	if got := err.Error(); len(got) > 400 || !strings.HasSuffix(got, "... (1048600 bytes of message)") || !errors.Is(err, cause) {
		t.Errorf("Tame of a 1 MB message: %d bytes ending %q, errors.Is %v; want at most 400, the size said, and the cause kept", len(got), got[max(len(got)-40, 0):], errors.Is(err, cause))
	}
	if got, want := Tame(errors.New("Bad line: 'a\n' has no ':'")).Error(), `Bad line: 'a\n' has no ':'`; got != want {
		t.Errorf("Tame: %q, want %q", got, want)
	}
	if Tame(nil) != nil {
		t.Error("Tame(nil) is not nil")
	}
}
