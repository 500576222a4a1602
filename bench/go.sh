#!/bin/bash
# Go benchmarks: `go test -run '^$' -bench . -benchmem -count 6` in every
# package that has a Benchmark function, summarised by benchstat. Each run
# is kept in bench/.cache/go/<UTC time>-<commit>.txt; benchstat compares it
# with BENCH_GO_BASE (a file from an earlier run) when set, else with the
# previous run kept there, else shows it alone.
#
# Env: BENCH_GO_COUNT (default 6), BENCH_GO_BASE, BENCH_GO_BENCH (the -bench
# regexp, default ".").
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The version of golang.org/x/perf whose benchstat we run: pinned, so a
# rerun gives the same tables.
benchstat=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
# Packages that should have benchmarks (issue 3): the Authenticode digest,
# module signing, the tar.xz writer, the .deb reader.
expected=(sign/efi sign/kmod pkggen deb)

need_go
check_load
cd "$REPO_DIR"

mapfile -t pkgs < <(grep -rlE --include='*_test.go' '^func Benchmark[A-Z_]' . |
	grep -v '^\./bench/' | xargs -r -n1 dirname | sort -u)
((${#pkgs[@]} > 0)) || die "no package has a Benchmark function"
missing=()
for p in "${expected[@]}"; do
	printf '%s\n' "${pkgs[@]}" | grep -qx "./$p" || missing+=("$p")
done

mkdir -p "$CACHE_DIR/go"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit+=-dirty
out=$CACHE_DIR/go/$(date -u +%Y%m%dT%H%M%SZ)-$commit.txt
base=${BENCH_GO_BASE:-$(find "$CACHE_DIR/go" -name '*.txt' ! -name '*.tmp' | sort | tail -1)}

log "go test -bench in ${pkgs[*]}"
go test -run '^$' -bench "${BENCH_GO_BENCH:-.}" -benchmem -count "${BENCH_GO_COUNT:-6}" "${pkgs[@]}" >"$out.tmp" ||
	{
		cat "$out.tmp" >&2
		die "go test -bench failed"
	}
mv "$out.tmp" "$out"

# Columns are labelled with the file names, without the directory.
label() {
	local b=${1##*/}
	printf '%s=%s' "${b%.txt}" "$1"
}
if [[ -n $base && -f $base ]]; then
	log "benchstat ${base##*/} ${out##*/}"
	go run "$benchstat" "$(label "$(realpath "$base")")" "$(label "$out")"
else
	go run "$benchstat" "$(label "$out")"
fi
n=$(grep -cE '^Benchmark' "$out" || true)
printf 'go: %d benchmark results in %s (%s)%s; kept in %s\n' \
	"$n" "${pkgs[*]#./}" "$(go version | awk '{print $3}')" \
	"${missing[*]:+; no benchmarks yet in ${missing[*]}}" "${out#"$REPO_DIR"/}"
