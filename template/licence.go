package template

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// commonLicenses are the licences whose text Debian installs in
// /usr/share/common-licenses (base-files), by their DEP-5 short name: a
// copyright file may refer to them there instead of holding the text.
var commonLicenses = map[string]string{
	"Apache-2.0": "Apache-2.0", "Artistic": "Artistic", "BSD-3-clause": "BSD", "CC0-1.0": "CC0-1.0",
	"GFDL-1.2": "GFDL-1.2", "GFDL-1.3": "GFDL-1.3",
	"GPL-1": "GPL-1", "GPL-2": "GPL-2", "GPL-3": "GPL-3",
	"LGPL-2": "LGPL-2", "LGPL-2.1": "LGPL-2.1", "LGPL-3": "LGPL-3",
	"MPL-1.1": "MPL-1.1", "MPL-2.0": "MPL-2.0",
}

// copyright writes debian/copyright in the machine-readable format
// (DEP-5). The licence goes in a stand-alone License paragraph, with its
// text: the text signing.yaml gives after the short name, else, for a
// licence in /usr/share/common-licenses, a pointer to it there (lintian's
// missing-license-paragraph-in-dep5-copyright asks for the paragraph).
func (s *Spec) copyright() (string, error) {
	if err := checkLicence(s.License); err != nil {
		return "", err
	}
	name, text, _ := strings.Cut(s.License, "\n")
	name = strings.TrimSpace(name)
	if strings.TrimSpace(text) == "" {
		file := commonLicenses[strings.TrimSuffix(name, "+")]
		text = fmt.Sprintf("On Debian systems, the complete text of this licence is in\n/usr/share/common-licenses/%s.", file)
		if strings.HasSuffix(name, "+") {
			text = "This package is licensed under this licence or, at your option,\nany later version of it.\n\n" + text
		}
	}
	return fmt.Sprintf("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: %s\nLicense: %s\n\nLicense: %s\n%s\n",
		multiLine(s.Copyright), name, name, indentText(text)), nil
}

// checkLicence refuses a licence given by its short name alone that is
// not in /usr/share/common-licenses: debian/copyright must then hold its
// text.
func checkLicence(license string) error {
	name, text, _ := strings.Cut(license, "\n")
	name = strings.TrimSpace(name)
	if strings.TrimSpace(text) != "" {
		return nil
	}
	if _, ok := commonLicenses[strings.TrimSuffix(name, "+")]; !ok {
		return fmt.Errorf("%s is not one of /usr/share/common-licenses (%s): give its text after the first line",
			inputerr.Value(name), strings.Join(commonLicenseNames(), ", "))
	}
	return nil
}

// indentText writes the lines of a field's continuation: each indented
// by a space, an empty one as " .".
func indentText(text string) string {
	return strings.TrimPrefix(multiLine("\n"+strings.Trim(text, "\n")), "\n")
}

func commonLicenseNames() []string {
	names := make([]string, 0, len(commonLicenses))
	for n := range commonLicenses {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
