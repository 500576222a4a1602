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
