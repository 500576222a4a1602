#!/bin/bash
# Kernel: Debian bookworm's real linux-image-amd64-signed-template (6.1)
# with the three unsigned images its files.json names
# (linux-image-6.1.0-*-{amd64,cloud-amd64,rt-amd64}-unsigned, 27-70 MB each,
# at the exact version its Build-Depends asks for): `mksigned generate`
# against the peer pipeline (bench/peer.sh: dpkg-deb -x of all three,
# ~1.2 GB, sbsign --detached per vmlinuz, copy the template, dpkg-source -b).
# Run both ways: reading every package to its end (the default) and with
# --stop-early. Target (set when packages were read only up to the listed
# files): at least 10x faster with --stop-early.
#
# Env: BENCH_RUNS (default 3); BENCH_KERNEL_TEMPLATE, the template to use as
# NAME[=VERSION] (default linux-image-amd64-signed-template at apt's
# candidate version).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

target=10
runs=${BENCH_RUNS:-3}

need_bench_tools
need_pkgs sbsigntool perl
check_load
make_key
make_work

kernel_template
unsigned=()
for spec in "${KSPECS[@]}"; do
	unsigned+=("$(fetch_deb "$spec")")
done
tpl=$KTPL
nfiles=$KNFILES

log "template ${tpl##*/}; unsigned: ${unsigned[*]##*/}; $nfiles files to sign"
build_mksigned

# Both ways: by default mksigned reads every package to its end (so that
# a second copy of a listed file is refused, as dpkg would install it);
# --stop-early stops once the listed files are seen (a trusted builder).
measure mksigned "$runs" "rm -rf $(q "$WORK/out")" \
	"$(q "$MKSIGNED" generate --template "$tpl" "${unsigned[@]/#/--unsigned=}" --key "$KEY" --cert "$CERT" --output "$WORK/out") >/dev/null"
measure early "$runs" "rm -rf $(q "$WORK/out-early")" \
	"$(q "$MKSIGNED" generate --stop-early --template "$tpl" "${unsigned[@]/#/--unsigned=}" --key "$KEY" --cert "$CERT" --output "$WORK/out-early") >/dev/null"
measure peer "$runs" "rm -rf $(q "$WORK/peer")" \
	"$(q "$BENCH_DIR/peer.sh" "$KEY" "$CERT" "$WORK/peer" "$tpl" "${unsigned[@]}")"

n=$(tar -tJf "$WORK"/out/*.tar.xz | grep -c '/debian/signatures/.*\.sig$') || true
[[ $n == "$nfiles" ]] || die "mksigned output has $n signatures, want $nfiles"
[[ $(basename "$WORK"/out/*.dsc) == "$(basename "$WORK"/peer/*.dsc)" ]] || die "mksigned and peer .dsc names differ"
cmp -s "$WORK"/out/*.tar.xz "$WORK"/out-early/*.tar.xz || die "--stop-early changed the output"

peer="peer $(fmt_s "${TIME[peer]}") (cpu $(fmt_s "${CPU[peer]}"), ${RSS[peer]} MB) (dpkg-deb -x x${#unsigned[@]} + sbsign --detached x$nfiles + cp + dpkg-source -b)"
r=$(ratio "${TIME[peer]}" "${TIME[mksigned]}")
printf 'kernel (whole packages, the default): mksigned %s (cpu %s, %d MB), %s: %sx faster\n' \
	"$(fmt_s "${TIME[mksigned]}")" "$(fmt_s "${CPU[mksigned]}")" "${RSS[mksigned]}" "$peer" "$r"
r=$(ratio "${TIME[peer]}" "${TIME[early]}")
printf 'kernel --stop-early: mksigned %s (cpu %s, %d MB), %s: %sx faster (target %sx: %s)\n' \
	"$(fmt_s "${TIME[early]}")" "$(fmt_s "${CPU[early]}")" "${RSS[early]}" "$peer" "$r" "$target" "$(meets "$r" "$target")"
