#!/bin/bash
# The split signer (issue 10 §5), three figures:
#
# 1. request on the kernel workload (kernel.sh's template and images)
#    against generate --dry-run of the same: both read every package to its
#    end; request also hashes each listed file whole.
# 2. sign-request of the ~4,000-module request (modules.sh's fixture)
#    against the RSA floor on all cores: modules / Go's RSA-2048 signing
#    rate (bench/rsarate, the same floor modules.sh uses). Target: within
#    1.2x; nothing is parsed on the signing host, so nothing but the
#    request's JSON stands between it and the key.
# 3. the same request signed through a SoftHSM2 token holding the same key,
#    against the token's own rate measured in the same run (rsarate
#    -pkcs11: the same digests through crypto11, on all cores).
#
# Each response is fed back to generate --signatures, whose output must be
# byte-identical to generate --key's.
#
# Env: BENCH_RUNS (default 3), BENCH_KERNEL_TEMPLATE, BENCH_MODULES_PACKAGE
# (see kernel.sh and modules.sh).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

target=1.2
runs=${BENCH_RUNS:-3}

need_bench_tools
need_pkgs python3 perl softhsm2 opensc
check_load
make_key
make_work
build_mksigned
(cd "$REPO_DIR" && go build -o "$WORK/rsarate" ./bench/rsarate) || die "go build ./bench/rsarate failed"

# median RATE...: the median of rsarate's "N/s" figures.
median() {
	printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'
}

# rate ARGS...: rsarate's signatures per second, median of the runs.
rate() {
	local rates=() line i
	for ((i = 0; i < (runs > 0 ? runs : 3); i++)); do
		line=$("$WORK/rsarate" "$@") || die "rsarate $* failed"
		log "$line"
		line=${line##* }
		rates+=("${line%/s}")
	done
	median "${rates[@]}"
}

# 1. request against generate --dry-run, on the kernel workload.
kernel_template
unsigned=()
for spec in "${KSPECS[@]}"; do
	unsigned+=("$(fetch_deb "$spec")")
done
measure dryrun "$runs" true \
	"$(q "$MKSIGNED" generate --dry-run --template "$KTPL" "${unsigned[@]/#/--unsigned=}") >/dev/null"
measure request "$runs" "rm -f $(q "$WORK/kernel-req.json")" \
	"$(q "$MKSIGNED" request --template "$KTPL" "${unsigned[@]/#/--unsigned=}" --output "$WORK/kernel-req.json") >/dev/null"
printf 'request (kernel, %d images): mksigned request %s (cpu %s, %d MB), generate --dry-run %s (cpu %s, %d MB): %sx the dry run\n' \
	"${#unsigned[@]}" "$(fmt_s "${TIME[request]}")" "$(fmt_s "${CPU[request]}")" "${RSS[request]}" \
	"$(fmt_s "${TIME[dryrun]}")" "$(fmt_s "${CPU[dryrun]}")" "${RSS[dryrun]}" \
	"$(awk -v a="${TIME[request]}" -v b="${TIME[dryrun]}" 'BEGIN {printf "%.2f", a / b}')"

# 2. sign-request of the modules request against the RSA floor.
modules_fixture
req=$WORK/modules-req.json
"$MKSIGNED" request --template "$MTPL" --unsigned "$MDEB" --output "$req" >/dev/null
signreq=("$MKSIGNED" sign-request --no-policy --no-audit-log)
measure signreq "$runs" "rm -f $(q "$WORK/resp.tar")" \
	"$(q "${signreq[@]}" --key "$KEY" --cert "$CERT" --output "$WORK/resp.tar" "$req") >/dev/null"
go_rate=$(rate -n "$MCOUNT" -key "$KEY")
go_floor=$(awk -v n="$MCOUNT" -v r="$go_rate" 'BEGIN {printf "%.3f", n / r}')

# The response builds what generate --key builds.
"$MKSIGNED" generate --template "$MTPL" --unsigned "$MDEB" --signatures "$WORK/resp.tar" --cert "$CERT" --output "$WORK/split" >/dev/null
"$MKSIGNED" generate --template "$MTPL" --unsigned "$MDEB" --key "$KEY" --cert "$CERT" --output "$WORK/local" >/dev/null
same=identical
diff -r "$WORK/split" "$WORK/local" >&2 || same=DIFFERENT

rf=$(awk -v m="${TIME[signreq]}" -v f="$go_floor" 'BEGIN {printf "%.2f", m / f}')
printf 'sign-request (%d modules): mksigned %s (cpu %s, %d MB), floor %d / %s RSA-2048 sig/s (Go, all cores) = %s: %sx the floor (target <= %sx: %s); generate --signatures RESP output %s to generate --key'"'"'s\n' \
	"$MCOUNT" "$(fmt_s "${TIME[signreq]}")" "$(fmt_s "${CPU[signreq]}")" "${RSS[signreq]}" \
	"$MCOUNT" "$go_rate" "$(fmt_s "$go_floor")" "$rf" "$target" \
	"$(awk -v r="$rf" -v t="$target" 'BEGIN {print (r <= t ? "met" : "NOT met")}')" "$same"

# 3. The same through SoftHSM2, a token of this run's own.
hsm=$WORK/softhsm
mkdir -p "$hsm/tokens"
export SOFTHSM2_CONF=$hsm/softhsm2.conf
printf 'directories.tokendir = %s/\nobjectstore.backend = file\nlog.level = ERROR\n' "$hsm/tokens" >"$SOFTHSM2_CONF"
export MKSIGNED_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so MKSIGNED_PKCS11_PIN=bench-pin
softhsm2-util --init-token --free --label bench --pin "$MKSIGNED_PKCS11_PIN" --so-pin 5678 >/dev/null
openssl pkcs8 -topk8 -nocrypt -in "$KEY" -out "$hsm/key.p8"
softhsm2-util --import "$hsm/key.p8" --token bench --label signing --id 01 --pin "$MKSIGNED_PKCS11_PIN" >/dev/null
uri='pkcs11:token=bench;object=signing'
measure signhsm "$runs" "rm -f $(q "$WORK/resp-hsm.tar")" \
	"$(q "${signreq[@]}" --key "$uri" --cert "$CERT" --output "$WORK/resp-hsm.tar" "$req") >/dev/null"
hsm_rate=$(rate -n "$MCOUNT" -pkcs11 "$uri" -cert "$CERT")
hsm_floor=$(awk -v n="$MCOUNT" -v r="$hsm_rate" 'BEGIN {printf "%.3f", n / r}')
cmp -s "$WORK/resp.tar" "$WORK/resp-hsm.tar" && hsame=identical || hsame=DIFFERENT
printf 'sign-request through SoftHSM2 (%d modules): mksigned %s (cpu %s, %d MB), SoftHSM2'"'"'s own rate %d / %s sig/s (crypto11, all cores) = %s: %sx; response %s to the PEM key'"'"'s\n' \
	"$MCOUNT" "$(fmt_s "${TIME[signhsm]}")" "$(fmt_s "${CPU[signhsm]}")" "${RSS[signhsm]}" \
	"$MCOUNT" "$hsm_rate" "$(fmt_s "$hsm_floor")" \
	"$(awk -v m="${TIME[signhsm]}" -v f="$hsm_floor" 'BEGIN {printf "%.2f", m / f}')" "$hsame"
[[ $same == identical && $hsame == identical ]]
