#!/bin/bash
# The peer pipeline: what a signing service does with Debian's own tools,
# the baseline every bench/*.sh compares mksigned with.
#
#   peer.sh [-j N] KEY CERT OUT TEMPLATE UNSIGNED_DEB...
#
# 1. dpkg-deb -x each unsigned .deb (and TEMPLATE when it is a .deb) into OUT;
# 2. read files.json with jq;
# 3. sign each listed file: `sbsign --key --cert --detached --output SIG`
#    (sig_type efi) or `sign-file -d sha256 KEY CERT FILE` (linux-module,
#    which writes FILE.p7s, then renamed to SIG);
# 4. copy source-template to OUT/src, the signatures into
#    OUT/src/debian/signatures/<package>/<path>.sig;
# 5. dpkg-source -b OUT/src, leaving OUT/<source>_<version>.{dsc,tar.xz}.
#
# -j N signs N files at a time (xargs -P N); the default is one at a time.
# Directories are made and .p7s files renamed by one perl process each, so
# the peer pays one process per signature, not three.
set -euo pipefail

jobs=1
if [[ ${1-} == -j ]]; then
	jobs=$2
	shift 2
fi
(($# >= 5)) || {
	echo "usage: ${0##*/} [-j N] KEY CERT OUT TEMPLATE UNSIGNED_DEB..." >&2
	exit 2
}
key=$1 cert=$2 out=$3 tpl=$4
shift 4

mkdir -p "$out/unpacked"
out=$(cd "$out" && pwd)

# 1. Unpack.
for deb in "$@"; do
	pkg=${deb##*/}
	pkg=${pkg%%_*}
	dpkg-deb -x "$deb" "$out/unpacked/$pkg"
done
if [[ -d $tpl ]]; then
	csdir=$tpl
else
	dpkg-deb -x "$tpl" "$out/template"
	csdir=$(echo "$out"/template/usr/share/code-signing/*/)
	[[ -f $csdir/files.json ]] || {
		echo "${0##*/}: no usr/share/code-signing/*/files.json in $tpl" >&2
		exit 1
	}
fi

# 4a. The source tree (before signing, so the signatures go straight in).
cp -a "$csdir/source-template" "$out/src"

# 2. The list: package, sig_type, path, one per line.
list=$out/list
jq -r '(.packages // .) | to_entries[] | .key as $p | .value.files[] | [$p, .sig_type, .file] | @tsv' \
	"$csdir/files.json" >"$list"

# The directories every signature goes into.
OUT=$out perl -MFile::Path=make_path -F'\t' -lane \
	'$_ = "$ENV{OUT}/src/debian/signatures/$F[0]/$F[2]"; s{/[^/]*$}{}; make_path($_)' "$list"

# 3. Sign.
signfile=$(echo /usr/lib/linux-kbuild-*/scripts/sign-file)
efi=$out/efi.list mod=$out/mod.list
: >"$efi"
: >"$mod"
while IFS=$'\t' read -r pkg type path; do
	case $type in
	efi) printf '%s\0%s\0' "$out/unpacked/$pkg/$path" "$out/src/debian/signatures/$pkg/$path.sig" >>"$efi" ;;
	linux-module) printf '%s\0' "$out/unpacked/$pkg/$path" >>"$mod" ;;
	*)
		echo "${0##*/}: unknown sig_type $type" >&2
		exit 1
		;;
	esac
done <"$list"

if ((jobs == 1)); then
	while IFS= read -r -d '' file && IFS= read -r -d '' sig; do
		sbsign --key "$key" --cert "$cert" --detached --output "$sig" "$file" 2>/dev/null
	done <"$efi"
	while IFS= read -r -d '' file; do
		"$signfile" -d sha256 "$key" "$cert" "$file"
	done <"$mod"
else
	# shellcheck disable=SC2016 # expanded by the inner sh
	xargs -0 -r -n 2 -P "$jobs" sh -c 'exec sbsign --key "$0" --cert "$1" --detached --output "$3" "$2" 2>/dev/null' "$key" "$cert" <"$efi"
	xargs -0 -r -n 1 -P "$jobs" "$signfile" -d sha256 "$key" "$cert" <"$mod"
fi

# 4b. Module signatures: FILE.p7s -> src/debian/signatures/<pkg>/<path>.sig.
OUT=$out perl -F'\t' -lane 'next unless $F[1] eq "linux-module";
	rename("$ENV{OUT}/unpacked/$F[0]/$F[2].p7s", "$ENV{OUT}/src/debian/signatures/$F[0]/$F[2].sig")
		or die "rename $F[2].p7s: $!\n"' "$list"

# 5. Build the source package.
cd "$out"
dpkg-source -q -b src >/dev/null
