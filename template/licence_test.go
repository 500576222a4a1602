package template

import (
	"strings"
	"testing"
)

func TestCopyrightLicence(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ license, want string }{
		{"GPL-2+", "Files: *\nCopyright: 2024 Jane\nLicense: GPL-2+\n\nLicense: GPL-2+\n This package is licensed under this licence or, at your option,\n any later version of it.\n .\n On Debian systems, the complete text of this licence is in\n /usr/share/common-licenses/GPL-2.\n"},
		{"BSD-3-clause", "License: BSD-3-clause\n\nLicense: BSD-3-clause\n On Debian systems, the complete text of this licence is in\n /usr/share/common-licenses/BSD.\n"},
		{"MIT\nPermission is granted.\n\nNo warranty.", "License: MIT\n\nLicense: MIT\n Permission is granted.\n .\n No warranty.\n"},
	} {
		s := &Spec{Copyright: "2024 Jane", License: c.license}
		got, err := s.copyright()
		if err != nil {
			t.Errorf("license %q: %v", c.license, err)
			continue
		}
		if !strings.HasSuffix(got, c.want) {
			t.Errorf("license %q: debian/copyright is\n%s\nwant it to end\n%s", c.license, got, c.want)
		}
	}
	s := &Spec{Copyright: "2024 Jane", License: "MIT"}
	if _, err := s.copyright(); err == nil || !strings.Contains(err.Error(), `"MIT" is not one of /usr/share/common-licenses`) {
		t.Errorf("license MIT without its text: got %v, want an error asking for the text", err)
	}
}
