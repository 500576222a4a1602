#!/bin/bash
# Decoders: mksigned's ways of reading a whole data.tar against the system
# programs, on the real 70 MB data.tar.xz of linux-image-6.1.0-*-amd64-unsigned
# (~400 MB of tar; the package bench/kernel.sh and bench/modules.sh use),
# and the same tar recompressed with zstd -3 (as dpkg-deb -Zzstd would).
#
#   xz:   `xz -dc` (the floor), mksigned with the xz program (the default
#         for members from 256 KiB), and with the pure-Go decoder
#         (MKSIGNED_DECOMPRESS=go, github.com/xi2/xz);
#   zstd: `zstd -dc` against klauspost/compress/zstd (mksigned's only zstd
#         path: it is close enough to the program that no subprocess pays).
#
# mksigned's figures include walking the tar (bench/decoders), so they are
# what generate pays when it must read a package whole. Prints one line.
# Env: BENCH_RUNS (default 3), BENCH_KERNEL_TEMPLATE (see kernel.sh).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=${BENCH_RUNS:-3}
need_bench_tools
need_pkgs zstd binutils
check_load
make_work

kernel_template
spec=
for s in "${KSPECS[@]}"; do
	[[ ${s%%=*} =~ ^linux-image-[0-9.]+-[0-9]+-amd64-unsigned$ ]] && spec=$s
done
[[ -n $spec ]] || die "the kernel template names no linux-image-*-amd64-unsigned"
deb=$(fetch_deb "$spec")

member=$(ar t "$deb" | grep '^data\.tar')
[[ $member == data.tar.xz ]] || die "$deb: data member is $member, want data.tar.xz"
xzf=$WORK/data.tar.xz
zstf=$WORK/data.tar.zst
ar p "$deb" data.tar.xz >"$xzf"
xz -dc "$xzf" | zstd -q -3 -T0 -o "$zstf"

need_go
(cd "$REPO_DIR" && go build -o "$WORK/decoders" ./bench/decoders) || die "go build ./bench/decoders failed"
D=$WORK/decoders

measure xz-program "$runs" true "xz -dc $(q "$xzf") >/dev/null"
measure mksigned-xz-external "$runs" true "env MKSIGNED_DECOMPRESS=external $(q "$D" "$xzf") >/dev/null"
measure mksigned-xz-go "$runs" true "env MKSIGNED_DECOMPRESS=go $(q "$D" "$xzf") >/dev/null"
measure zstd-program "$runs" true "zstd -q -dc $(q "$zstf") >/dev/null"
measure mksigned-zstd "$runs" true "$(q "$D" "$zstf") >/dev/null"

printf 'decoders: %s (%s compressed): xz -dc %s, mksigned with xz %s (%sx), pure-Go xz %s (%sx); zstd -dc %s, klauspost zstd %s (%sx)\n' \
	"$(basename "$deb")" "$(du -h "$xzf" | cut -f1)" \
	"$(fmt_s "${TIME[xz-program]}")" \
	"$(fmt_s "${TIME[mksigned-xz-external]}")" "$(ratio "${TIME[mksigned-xz-external]}" "${TIME[xz-program]}")" \
	"$(fmt_s "${TIME[mksigned-xz-go]}")" "$(ratio "${TIME[mksigned-xz-go]}" "${TIME[xz-program]}")" \
	"$(fmt_s "${TIME[zstd-program]}")" \
	"$(fmt_s "${TIME[mksigned-zstd]}")" "$(ratio "${TIME[mksigned-zstd]}" "${TIME[zstd-program]}")"
