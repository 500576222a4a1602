# shellcheck shell=bash
# Shared helpers for the bench/*.sh scripts; sourced, never run.
#
# Every script: installs the Debian tools it needs (as root), downloads
# packages with apt-get into bench/.cache/ (kept between runs, gitignored),
# makes its own RSA-2048 key with openssl (cached too), builds mksigned from
# this checkout into a temporary work directory, times each side with
# hyperfine (median of the runs) and records each side's peak RSS with
# /usr/bin/time (the "Maximum resident set size" that `time -v` prints,
# here as `-f %M`, max over the runs).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
CACHE_DIR=${BENCH_CACHE:-$BENCH_DIR/.cache}
export BENCH_DIR REPO_DIR CACHE_DIR
declare -A TIME=() CPU=() RSS=()

die() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

log() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
}

# need_pkgs PKG...: apt-get install the packages not yet installed.
need_pkgs() {
	local missing=() p
	for p in "$@"; do
		if ! dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
			missing+=("$p")
		fi
	done
	((${#missing[@]} == 0)) && return 0
	[[ $(id -u) == 0 ]] || die "need root to install: ${missing[*]}"
	log "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# need_go: the go command (Go 1.26, from go.mod) must be on PATH.
need_go() {
	command -v go >/dev/null || die "go not found on PATH (mksigned needs Go $(awk '/^go /{print $2}' "$REPO_DIR/go.mod"))"
}

# fetch_deb NAME[=VERSION]: prints the path of the cached .deb, downloading it
# with apt-get download when absent. apt names files NAME_VERSION_ARCH.deb,
# with an epoch's colon written %3a.
fetch_deb() {
	local spec=$1 name ver f
	name=${spec%%=*}
	mkdir -p "$CACHE_DIR"
	if [[ $spec == *=* ]]; then
		ver=${spec#*=}
	else
		ver=$(apt-cache policy "$name" | awk '/Candidate:/{print $2}')
		[[ -n $ver && $ver != "(none)" ]] || { apt-get update -qq; ver=$(apt-cache policy "$name" | awk '/Candidate:/{print $2}'); }
		[[ -n $ver && $ver != "(none)" ]] || die "apt knows no package $name"
	fi
	ver=${ver//:/%3a}
	for f in "$CACHE_DIR/${name}_${ver}"_*.deb; do
		[[ -e $f ]] && { printf '%s\n' "$f"; return 0; }
	done
	log "apt-get download $spec"
	# Sandbox::User=root: the cache dir is usually not writable by _apt.
	(cd "$CACHE_DIR" && apt-get -qq -o APT::Sandbox::User=root download "$spec" >/dev/null) ||
		die "apt-get download $spec failed: is that version in your sources? (apt-get update; bookworm-security carries the newest kernel, and a kernel template and its images come from one source upload: pin an older template with BENCH_KERNEL_TEMPLATE=NAME=VERSION)"
	for f in "$CACHE_DIR/${name}_${ver}"_*.deb; do
		[[ -e $f ]] && { printf '%s\n' "$f"; return 0; }
	done
	die "apt-get download $spec left no ${name}_${ver}_*.deb in $CACHE_DIR"
}

# kernel_template: fetches the kernel signing template (BENCH_KERNEL_TEMPLATE,
# NAME[=VERSION], default linux-image-amd64-signed-template at apt's
# candidate) and sets KTPL (its .deb), KSPECS (NAME=VERSION of each unsigned
# package files.json names, at the exact version the source-template's
# Build-Depends asks for: the versions mksigned checks) and KNFILES (how
# many files it lists). Needs $WORK.
kernel_template() {
	local d=$WORK/kernel-template files_json control build_depends pkg n ver
	KTPL=$(fetch_deb "${BENCH_KERNEL_TEMPLATE:-linux-image-amd64-signed-template}")
	mkdir -p "$d"
	dpkg-deb --fsys-tarfile "$KTPL" | tar -xf - -C "$d" --wildcards '*/files.json' '*/source-template/debian/control'
	files_json=$(echo "$d"/usr/share/code-signing/*/files.json)
	control=$(echo "$d"/usr/share/code-signing/*/source-template/debian/control)
	[[ -f $files_json && -f $control ]] || die "$KTPL: no usr/share/code-signing/*/{files.json,source-template/debian/control}"
	build_depends=$(awk '/^Build-Depends:/ {p = 1; print; next} p && /^[ \t]/ {print; next} {p = 0}' "$control" | tr '\n' ' ')
	KSPECS=()
	KNFILES=0
	while read -r pkg n; do
		ver=$(grep -oE "(^|[ ,])$pkg \(= [^)]+\)" <<<"$build_depends" | sed -E 's/.*\(= ([^)]+)\)/\1/' | head -1)
		if [[ -n $ver ]]; then
			KSPECS+=("$pkg=$ver")
		else
			log "warning: the template's Build-Depends names no exact version of $pkg: using apt's candidate"
			KSPECS+=("$pkg")
		fi
		KNFILES=$((KNFILES + n))
	done < <(jq -r '(.packages // .) | to_entries[] | "\(.key) \(.value.files | length)"' "$files_json")
	((${#KSPECS[@]} > 0)) || die "$files_json lists no packages"
}

# modules_fixture: every .ko of the kernel package the kernel template
# names (or $BENCH_MODULES_PACKAGE=NAME=VERSION), build signatures stripped,
# as one .deb and a code-signing directory listing each (built once, cached
# in $CACHE_DIR/modules/). Sets MDEB, MTPL and MCOUNT (modules). Needs
# $WORK, python3 and perl.
# shellcheck disable=SC2034 # MDEB, MTPL and MCOUNT are read by the scripts
modules_fixture() {
	local spec=${BENCH_MODULES_PACKAGE-} s src_deb src_pkg version pkg fixture
	if [[ -z $spec ]]; then
		kernel_template
		for s in "${KSPECS[@]}"; do
			[[ ${s%%=*} =~ ^linux-image-[0-9.]+-[0-9]+-amd64-unsigned$ ]] && spec=$s
		done
		[[ -n $spec ]] || die "${KTPL##*/} names no linux-image-*-amd64-unsigned: set BENCH_MODULES_PACKAGE=NAME=VERSION"
	fi
	src_deb=$(fetch_deb "$spec")
	src_pkg=${spec%%=*}
	version=$(dpkg-deb -f "$src_deb" Version)
	pkg=${src_pkg/#linux-image-/bench-modules-}

	# The fixture: built once, cached.
	fixture=$CACHE_DIR/modules/${src_pkg}_$version
	if [[ ! -f $fixture/done ]]; then
		log "building the modules fixture from ${src_deb##*/} (once; a few minutes: dpkg-deb -b compresses ~300 MB with xz)"
		rm -rf "$fixture" "$fixture.tmp"
		mkdir -p "$fixture.tmp/root" "$fixture.tmp/template"
		dpkg-deb --fsys-tarfile "$src_deb" | tar -xf - -C "$fixture.tmp/root" --wildcards '*.ko'
		python3 "$BENCH_DIR/modules-fixture.py" "$fixture.tmp/root" "$pkg" "$version" "$src_pkg" "$fixture.tmp/template" >"$fixture.tmp/count"
		dpkg-deb --root-owner-group -b "$fixture.tmp/root" "$fixture.tmp/${pkg}_${version}_amd64.deb" >/dev/null
		rm -rf "$fixture.tmp/root"
		touch "$fixture.tmp/done"
		mv "$fixture.tmp" "$fixture"
	fi
	MDEB=$fixture/${pkg}_${version}_amd64.deb
	MTPL=$fixture/template
	MCOUNT=$(cat "$fixture/count")
	log "$MCOUNT modules of $src_pkg $version in ${MDEB##*/} ($(du -m "$MDEB" | cut -f1) MB)"
}

# make_key: an RSA-2048 key and self-signed certificate for the benchmarks
# (never trust it), cached as $CACHE_DIR/key/{signing.key,signing.crt}.
make_key() {
	KEY=$CACHE_DIR/key/signing.key
	CERT=$CACHE_DIR/key/signing.crt
	if [[ ! -s $KEY || ! -s $CERT ]]; then
		mkdir -p "$CACHE_DIR/key"
		openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
			-subj '/CN=mksigned bench key/' -keyout "$KEY.tmp" -out "$CERT.tmp" 2>/dev/null
		mv "$KEY.tmp" "$KEY"
		mv "$CERT.tmp" "$CERT"
	fi
	export KEY CERT
}

# make_work: a temporary work directory ($WORK), removed on exit.
make_work() {
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/mksigned-bench.XXXXXX")
	export WORK
	trap 'rm -rf "$WORK"' EXIT
}

# build_mksigned: go build this checkout into $WORK/mksigned ($MKSIGNED).
build_mksigned() {
	need_go
	MKSIGNED=$WORK/mksigned
	(cd "$REPO_DIR" && go build -o "$MKSIGNED" ./cmd/mksigned) || die "go build ./cmd/mksigned failed"
	export MKSIGNED
}

# mksigned_has_flag NAME: whether `mksigned generate -h` lists -NAME.
mksigned_has_flag() {
	# Not grep -q: under pipefail its early exit would fail the pipeline
	# (mksigned gets SIGPIPE).
	"$MKSIGNED" generate -h 2>&1 | grep -E -- "^ +--?$1( |\$)" >/dev/null
}

# q ARG...: ARGs quoted for a shell command line.
q() {
	local out='' a
	for a in "$@"; do
		out+="$(printf '%q' "$a") "
	done
	printf '%s' "${out% }"
}

# measure NAME RUNS PREPARE COMMAND: times COMMAND (a shell command line)
# RUNS times with hyperfine, running PREPARE (untimed) before each run, and
# sets TIME[NAME] (median wall seconds), CPU[NAME] (mean user+system
# seconds, children included: less sensitive than wall time to other work
# on the machine) and RSS[NAME] (peak RSS in MB, the largest over the runs;
# for a pipeline, that of its largest process).
# RUNS 0 lets hyperfine choose (at least 10 runs and 3 s), with one warmup.
# shellcheck disable=SC2034 # TIME, CPU and RSS are read by the scripts
measure() {
	local name=$1 runs=$2 prepare=$3 cmd=$4 rss=$WORK/rss.$1 json=$WORK/hyperfine.$1.json
	local args=(--style basic --export-json "$json" --prepare "$prepare")
	if [[ $runs == 0 ]]; then
		args+=(--warmup 1)
	else
		args+=(--runs "$runs")
	fi
	: >"$rss"
	log "timing $name: $cmd"
	hyperfine "${args[@]}" --command-name "$name" \
		"/usr/bin/time -f %M -a -o $(q "$rss") $cmd" >&2 ||
		die "$name failed (rerun the command above by hand to see why)"
	TIME[$name]=$(jq -r '.results[0].median' "$json")
	CPU[$name]=$(jq -r '.results[0].user + .results[0].system' "$json")
	RSS[$name]=$(awk '$1 ~ /^[0-9]+$/ && $1 > m {m = $1} END {print int(m / 1024 + 0.5)}' "$rss")
}

# ratio A B: A/B to one decimal place.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "inf" }'
}

# fmt_s SECONDS: 0.052s, 1.23s, 54.1s.
fmt_s() {
	awk -v s="$1" 'BEGIN { if (s < 1) printf "%.3fs", s; else if (s < 10) printf "%.2fs", s; else printf "%.1fs", s }'
}

# meets RATIO TARGET: "met" or "NOT met" for a ratio that must be >= TARGET.
meets() {
	awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t ? "met" : "NOT met") }'
}

# check_load: warn when other work competes for the CPUs.
check_load() {
	local load cpus
	read -r load _ </proc/loadavg
	cpus=$(nproc)
	if awk -v l="$load" -v c="$cpus" 'BEGIN { exit !(l > c / 2) }'; then
		log "warning: load average $load on $cpus CPUs: other work is running, wall times will be noisy (compare the cpu figures)"
	fi
}

# machine_info: the machine and tool versions, for RESULTS.md.
machine_info() {
	local v
	printf 'date: %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'cpu: %s CPUs, %s\n' "$(nproc)" "$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
	printf 'memory: %s\n' "$(free -h | awk '/^Mem:/ {print $2}')"
	printf 'os: %s, kernel %s\n' "$(. /etc/os-release && echo "$PRETTY_NAME")" "$(uname -r)"
	printf 'load average at start: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf 'mksigned: %s\n' "$(cd "$REPO_DIR" && git describe --always --dirty 2>/dev/null || echo unknown)"
	printf 'go: %s\n' "$(go version 2>/dev/null | awk '{print $3}')"
	for v in dpkg sbsigntool linux-kbuild-6.1 xz-utils openssl hyperfine; do
		printf '%s: %s\n' "$v" "$(dpkg-query -W -f='${Version}' "$v" 2>/dev/null || echo 'not installed')"
	done
}

# need_bench_tools: what every script uses.
need_bench_tools() {
	need_pkgs hyperfine time jq openssl dpkg-dev xz-utils binutils
}
