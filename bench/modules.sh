#!/bin/bash
# Modules at scale: every .ko of linux-image-6.1.0-*-amd64-unsigned (the one
# the kernel template names; ~4,000 modules) with Debian's build signatures
# stripped, repackaged as one .deb (dpkg-deb -b, xz), and a code-signing
# directory whose files.json lists each as linux-module
# (bench/modules-fixture.py; both cached in bench/.cache/modules/).
#
# mksigned generate (with --jobs NPROC when it has that flag) against the
# peer pipeline (bench/peer.sh: dpkg-deb -x, sign-file -d sha256 per module,
# .p7s -> debian/signatures/<pkg>/<path>.sig, dpkg-source -b), one module at
# a time and with xargs -P NPROC. In the same run, the two floors: `xz -dc`
# of the data member, and modules / Go's RSA-2048 signing rate on all cores
# (bench/rsarate). Targets: at least 5x faster than the sequential peer;
# at most 1.5x the larger floor.
#
# Env: BENCH_RUNS (default 3); BENCH_KERNEL_TEMPLATE (see kernel.sh), which
# picks the kernel version; BENCH_MODULES_PACKAGE=NAME=VERSION to take the
# modules of another linux-image-*-unsigned instead.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

target=5
floor_target=1.5
runs=${BENCH_RUNS:-3}

need_bench_tools
need_pkgs linux-kbuild-6.1 python3 perl
check_load
make_key
make_work
cpus=$(nproc)

modules_fixture
deb=$MDEB
tpl=$MTPL
count=$MCOUNT

build_mksigned
jobs_args=()
if mksigned_has_flag jobs; then
	jobs_args=(--jobs "$cpus")
else
	log "mksigned generate has no --jobs flag yet: running without"
fi
(cd "$REPO_DIR" && go build -o "$WORK/rsarate" ./bench/rsarate) || die "go build ./bench/rsarate failed"

# mksigned, then the floors, then the peers.
measure mksigned "$runs" "rm -rf $(q "$WORK/out")" \
	"$(q "$MKSIGNED" generate --template "$tpl" --unsigned "$deb" --key "$KEY" --cert "$CERT" --output "$WORK/out" "${jobs_args[@]}") >/dev/null"

member=$(ar t "$deb" | grep '^data\.tar')
[[ $member == data.tar.xz ]] || die "${deb##*/}: data member is $member, want data.tar.xz"
(cd "$WORK" && ar x "$deb" data.tar.xz)
measure xz "$runs" true "xz -dc $(q "$WORK/data.tar.xz") >/dev/null"

rates=()
for ((i = 0; i < (runs > 0 ? runs : 3); i++)); do
	line=$("$WORK/rsarate" -n "$count" -key "$KEY")
	log "$line"
	rates+=("${line##* }")
done
rate=$(printf '%s\n' "${rates[@]%/s}" | sort -n | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}')
rsa_floor=$(awk -v n="$count" -v r="$rate" 'BEGIN {printf "%.3f", n / r}')

measure peer "$runs" "rm -rf $(q "$WORK/peer")" \
	"$(q "$BENCH_DIR/peer.sh" "$KEY" "$CERT" "$WORK/peer" "$tpl" "$deb")"
measure peerpar "$runs" "rm -rf $(q "$WORK/peerpar")" \
	"$(q "$BENCH_DIR/peer.sh" -j "$cpus" "$KEY" "$CERT" "$WORK/peerpar" "$tpl" "$deb")"

# Which RSA signed (mksigned --json says since sign/libcrypto: OpenSSL's
# by default, Go's without libcrypto or cgo). The RSA floor stays Go's
# rate, as issue 3 defines it.
crypto=unknown
if mksigned_has_flag json; then
	rm -rf "$WORK/out-json"
	crypto=$("$MKSIGNED" generate --json --template "$tpl" --unsigned "$deb" --key "$KEY" --cert "$CERT" --output "$WORK/out-json" "${jobs_args[@]}" |
		sed -n 's/^ *"crypto": "\(.*\)",*$/\1/p')
	rm -rf "$WORK/out-json"
fi

# Same signatures as sign-file's, byte for byte (PKCS#1 v1.5 is
# deterministic), and one per module.
mkdir "$WORK/check"
tar -xJf "$WORK"/out/*.tar.xz -C "$WORK/check"
n=$(find "$WORK"/check/*/debian/signatures -name '*.sig' | wc -l)
[[ $n == "$count" ]] || die "mksigned output has $n signatures, want $count"
same=identical
diff -rq "$WORK"/check/*/debian/signatures "$WORK/peer/src/debian/signatures" >&2 || same=DIFFERENT

floor=$(awk -v a="${TIME[xz]}" -v b="$rsa_floor" 'BEGIN {print (a > b ? a : b)}')
r=$(ratio "${TIME[peer]}" "${TIME[mksigned]}")
rp=$(ratio "${TIME[peerpar]}" "${TIME[mksigned]}")
rf=$(awk -v m="${TIME[mksigned]}" -v f="$floor" 'BEGIN {printf "%.2f", m / f}')
fmet=$(awk -v r="$rf" -v t="$floor_target" 'BEGIN {print (r <= t ? "met" : "NOT met")}')
printf 'modules: %d modules, mksigned %s (%s, %s RSA; cpu %s, %d MB), peer %s (sign-file -d x%d, one at a time; %d MB) / %s (xargs -P%d): %sx / %sx faster (target %sx vs one at a time: %s); floors xz -dc %s, %d / %s RSA-2048 sig/s = %s: %sx the larger (target <= %sx: %s); signatures %s to sign-file'"'"'s\n' \
	"$count" "$(fmt_s "${TIME[mksigned]}")" "${jobs_args[*]:-no --jobs}" "${crypto:-go}" "$(fmt_s "${CPU[mksigned]}")" "${RSS[mksigned]}" \
	"$(fmt_s "${TIME[peer]}")" "$count" "${RSS[peer]}" "$(fmt_s "${TIME[peerpar]}")" "$cpus" \
	"$r" "$rp" "$target" "$(meets "$r" "$target")" \
	"$(fmt_s "${TIME[xz]}")" "$count" "$rate" "$(fmt_s "$rsa_floor")" "$rf" "$floor_target" "$fmet" "$same"
[[ $same == identical ]]
