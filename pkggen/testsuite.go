package pkggen

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mksigned/mksigned/internal/inputerr"
)

// setTestsuite is dpkg-source's set_testsuite_fields: Testsuite gets
// "autopkgtest" when debian/tests/control exists (and loses it when not),
// and Testsuite-Triggers, unless the source stanza sets it, lists the
// packages the tests depend on, less our own binaries and "@".
func (s *Source) setTestsuite(tree []Entry, binaries []string) error {
	f := s.fields
	current, _ := f.get("Testsuite")
	suites := map[string]bool{}
	for _, t := range perlSplit(reComma, current) {
		suites[t] = true
	}
	e := lookup(tree, testsControlPath)
	if e == nil {
		delete(suites, "autopkgtest")
	} else {
		data, err := regularFile(tree, testsControlPath)
		if err != nil {
			return err
		}
		suites["autopkgtest"] = true
		if trig, _ := f.get("Testsuite-Triggers"); !perlTrue(trig) {
			trig, err := testsuiteTriggers(data, binaries)
			if err != nil {
				return err
			}
			f.set("Testsuite-Triggers", trig)
		}
	}
	names := make([]string, 0, len(suites))
	for n := range suites {
		names = append(names, n)
	}
	sort.Strings(names)
	f.set("Testsuite", strings.Join(names, ", "))
	return nil
}

func testsuiteTriggers(data []byte, binaries []string) (string, error) {
	paras, err := parseParagraphs(data, testsControlPath)
	if err != nil {
		return "", err
	}
	deps := map[string]bool{}
	for _, p := range paras {
		_, tests := p.get("Tests")
		_, cmd := p.get("Test-Command")
		if !tests && !cmd {
			return "", &inputerr.Error{Path: testsControlPath, Offset: inputerr.NoOffset,
				Err: fmt.Errorf("paragraph at line %d is missing Tests or Test-Command field", p.line)}
		}
		v, ok := p.get("Depends")
		if !ok || !perlTrue(v) {
			continue
		}
		list, err := parseDeps(v, depOptions{testsDep: true, noArch: true})
		if err != nil {
			return "", &inputerr.Error{Path: testsControlPath, Offset: inputerr.NoOffset, Field: "Depends",
				Err: fmt.Errorf("paragraph at line %d: %w", p.line, err)}
		}
		for _, g := range list {
			for _, d := range g {
				deps[d.pkg] = true
			}
		}
	}
	for _, b := range binaries {
		delete(deps, b)
	}
	delete(deps, "@")
	names := make([]string, 0, len(deps))
	for n := range deps {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", "), nil
}
