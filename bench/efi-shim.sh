#!/bin/bash
# EFI: Debian's real shim-helpers-amd64-signed-template with shim-unsigned
# (both committed in testdata/debian/): `mksigned generate` against the
# peer pipeline (bench/peer.sh: dpkg-deb -x, sbsign --detached per file,
# copy the template, dpkg-source -b). Target: at least 5x faster.
#
# Env: BENCH_RUNS (default 0: hyperfine picks, at least 10 runs and 3 s).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

target=5
runs=${BENCH_RUNS:-0}

need_bench_tools
need_pkgs sbsigntool perl
check_load
make_key
make_work
build_mksigned

tpl=$(echo "$REPO_DIR"/testdata/debian/shim-helpers-amd64-signed-template_*_amd64.deb)
unsigned=$(echo "$REPO_DIR"/testdata/debian/shim-unsigned_*_amd64.deb)
[[ -f $tpl && -f $unsigned ]] || die "missing testdata/debian/shim-*.deb"

measure mksigned "$runs" "rm -rf $(q "$WORK/out")" \
	"$(q "$MKSIGNED" generate --template "$tpl" --unsigned "$unsigned" --key "$KEY" --cert "$CERT" --output "$WORK/out") >/dev/null"
measure peer "$runs" "rm -rf $(q "$WORK/peer")" \
	"$(q "$BENCH_DIR/peer.sh" "$KEY" "$CERT" "$WORK/peer" "$tpl" "$unsigned")"

# Both made the same source package, with two signatures in it.
n=$(tar -tJf "$WORK"/out/*.tar.xz | grep -c '/debian/signatures/.*\.sig$') || true
[[ $n == 2 ]] || die "mksigned output has $n signatures, want 2"
[[ $(basename "$WORK"/out/*.dsc) == "$(basename "$WORK"/peer/*.dsc)" ]] || die "mksigned and peer .dsc names differ"

r=$(ratio "${TIME[peer]}" "${TIME[mksigned]}")
printf 'efi-shim: mksigned %s (cpu %s, %d MB), peer %s (cpu %s, %d MB) (dpkg-deb -x + sbsign --detached + cp + dpkg-source -b): %sx faster (target %sx: %s)\n' \
	"$(fmt_s "${TIME[mksigned]}")" "$(fmt_s "${CPU[mksigned]}")" "${RSS[mksigned]}" \
	"$(fmt_s "${TIME[peer]}")" "$(fmt_s "${CPU[peer]}")" "${RSS[peer]}" "$r" "$target" "$(meets "$r" "$target")"
