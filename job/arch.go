package job

import (
	"github.com/mksigned/mksigned/pkggen"
	"github.com/mksigned/mksigned/template"
)

// Architectures returns the architectures t's signed source package
// builds for, as its .dsc's Architecture field will list them.
func Architectures(t *template.Template) ([]string, error) {
	src, err := pkggen.ReadSource(sourceTree(t))
	if err != nil {
		return nil, t.SourceError(err)
	}
	return src.Architectures(), nil
}

// CheckArchitecture refuses an unsigned package built for arch when the
// signed package builds for builds (Architectures) only, as Generate
// refuses it.
func CheckArchitecture(builds []string, arch string) error { return checkArchitecture(builds, arch) }
