// Package pkggen writes the "-signed" source package that Debian's code
// signing service uploads: a "3.0 (native)" .dsc and .tar.xz, made from
// the signing template's source-template tree plus the signatures, exactly
// as dpkg-source -b (dpkg 1.21) would make them.
//
// The uncompressed tarball is byte-identical to dpkg-source's for the same
// tree and SOURCE_DATE_EPOCH (WriteTar), and so is the .dsc for the same
// tarball (DSC). Write compresses with github.com/ulikunitz/xz, whose output
// differs from xz(1)'s but is deterministic, so Write's files depend only on
// the tree and the epoch, never on entry order, the clock or the machine.
//
// References: dpkg-source(1) and deb-src-control(5); dpkg's
// /usr/bin/dpkg-source, Dpkg::Source::Package, Dpkg::Source::Archive,
// Dpkg::Control::HashCore, Dpkg::Control::FieldsCore and Dpkg::Deps; the
// GNU tar manual ("Basic Tar Format", "GNU Extensions", "Excluding Some
// Files"); https://reproducible-builds.org/specs/source-date-epoch/.
package pkggen
