#!/bin/bash
# Runs every benchmark in turn (efi-shim, kernel, modules, signer, decoders, process, go) and prints
# the machine, then each script's summary line again at the end. A failing
# script does not stop the others; the exit status says whether all passed.
#
# Env: as the scripts (BENCH_RUNS, BENCH_KERNEL_TEMPLATE, ...); BENCH_ONLY,
# a space-separated subset such as "efi-shim modules".
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

machine_info
summaries=()
failed=()
for b in ${BENCH_ONLY:-efi-shim kernel modules signer decoders process go}; do
	log "== $b"
	if out=$("$BENCH_DIR/$b.sh"); then
		printf '%s\n' "$out"
		summaries+=("$(tail -1 <<<"$out")")
	else
		printf '%s\n' "$out"
		failed+=("$b")
		summaries+=("$b: FAILED (see above)")
	fi
done
printf '\n== summary (%s)\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
printf '%s\n' "${summaries[@]}"
((${#failed[@]} == 0)) || die "failed: ${failed[*]}"
