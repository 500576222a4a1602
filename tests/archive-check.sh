#!/bin/bash
# archive-check.sh [TEMPLATE...]: checks mksigned against every Debian
# signing template apt can download, for amd64 and arm64 (issue 7).
#
# For each *-signed-template package (apt-cache search), at apt's candidate
# version, for each architecture it exists for:
#  1. download the template, the unsigned packages its files.json names at
#     the versions its source-template's Build-Depends* pin, and Debian's
#     signed packages: those its debian/control builds, from the source
#     version at the top of its changelog (udebs are left out: apt's
#     sources carry no debian-installer section);
#  2. recover Debian's signatures from the signed packages (mksigned detach
#     --type efi) into DIR/<unsigned package>/<path>.sig, mapping each
#     signed file to the file it signs by path, basename, or basename +
#     ".signed"; where several fit, generate --signatures, which checks
#     each signature against its file, decides;
#  3. mksigned generate --signatures DIR, then mksigned verify --signed:
#     every reattached file must be byte for byte one of Debian's.
# Where Debian's signatures cannot all be recovered (a signed package is
# not in the archive, or a file is a linux-module one: module signatures
# carry no certificate), it signs with a throwaway key instead and verifies
# against that key's certificate, and says so in the template's line.
#
# Prints one line per template and architecture, `OK <template> <version>
# <arch>` or `FAIL <template> <version> <arch>: <first error>`, then a
# count; exits 1 if any failed, 2 on bad usage. Progress goes to stderr,
# and each template's commands and their output to a log in the cache.
#
# The host's apt is never changed: a private apt configuration (APT_CONFIG)
# with its own state, cache and a copy of the host's sources list adds
# arm64. Runs as any user (apt-get download needs no root).
#
# Args: TEMPLATE names to check only those (default: all).
# Env: MKSIGNED, the binary to check (default: go build ./cmd/mksigned of
# this checkout into a temporary directory); MKSIGNED_ARCHIVE_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/mksigned/archive-check): packages, apt state
# and logs, reused by reruns; MKSIGNED_ARCHIVE_ARCHES (default "amd64
# arm64"); MKSIGNED_ARCHIVE_VERSIONS=all checks every version apt knows of
# each template, not only the candidate; TMPDIR for the work directory.
set -euo pipefail

SELF=${0##*/}
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${MKSIGNED_ARCHIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mksigned/archive-check}
read -r -a ARCHES <<<"${MKSIGNED_ARCHIVE_ARCHES:-amd64 arm64}"
VERSIONS=${MKSIGNED_ARCHIVE_VERSIONS:-candidate}
DEBS=$CACHE/debs
LOGS=$CACHE/logs
APTDIR=$CACHE/apt

die() {
	printf '%s: %s\n' "$SELF" "$*" >&2
	exit 1
}

log() {
	printf '%s: %s\n' "$SELF" "$*" >&2
}

usage_error() {
	printf '%s: %s (see --help)\n' "$SELF" "$*" >&2
	exit 2
}

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d; s/^# \{0,1\}//; p}' "$0"
}

# --- setup -------------------------------------------------------------

need_tools() {
	local missing=() t
	for t in apt-get apt-cache dpkg dpkg-deb dpkg-parsechangelog jq openssl perl tar; do
		command -v "$t" >/dev/null || missing+=("$t")
	done
	perl -MDpkg::Control::Info -MDpkg::Deps -e 1 2>/dev/null || missing+=("perl's Dpkg modules")
	if [[ -z ${MKSIGNED:-} ]] && ! command -v go >/dev/null; then
		missing+=("go (or set MKSIGNED)")
	fi
	((${#missing[@]} == 0)) ||
		die "missing: ${missing[*]} (apt-get install apt dpkg-dev jq openssl tar)"
}

# host_apt_state: what the run must leave unchanged on the host.
host_apt_state() {
	dpkg --print-foreign-architectures
	ls -l --time-style=full-iso /var/lib/apt/lists/ 2>/dev/null || true
}

# setup_apt: a private apt configuration under $APTDIR, exported as
# APT_CONFIG, with the host's sources list, apt.conf.d and keyrings but its
# own state, cache and architectures, then apt-get update. apt reads
# APT_CONFIG, then the host's apt.conf.d, then Dir::Etc::main: pointing
# Dir::Etc::main at the same file makes its settings win over the host's.
setup_apt() {
	local conf=$APTDIR/apt.conf a archs='' f
	[[ $APTDIR != *'"'* ]] || die "the cache directory's path must not contain '\"': $APTDIR"
	mkdir -p "$APTDIR"/state/lists/partial "$APTDIR"/cache/archives/partial "$APTDIR"/log
	rm -rf "$APTDIR/sources.list.d"
	mkdir "$APTDIR/sources.list.d"
	: >"$APTDIR/sources.list"
	[[ ! -f /etc/apt/sources.list ]] || cp /etc/apt/sources.list "$APTDIR/sources.list"
	for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ ! -f $f ]] || cp "$f" "$APTDIR/sources.list.d/"
	done
	: >"$APTDIR/state/status" # nothing is installed, as far as this apt knows
	for a in "${ARCHES[@]}"; do
		archs+="\"$a\"; "
	done
	cat >"$conf" <<-EOF
		// Written by tests/archive-check.sh; rewritten on each run.
		$([[ ! -f /etc/apt/apt.conf ]] || echo '#include "/etc/apt/apt.conf";')
		Dir::Etc::main "$conf";
		Dir::Etc::sourcelist "$APTDIR/sources.list";
		Dir::Etc::sourceparts "$APTDIR/sources.list.d";
		Dir::State "$APTDIR/state";
		Dir::State::status "$APTDIR/state/status";
		Dir::Cache "$APTDIR/cache";
		Dir::Cache::pkgcache "pkgcache.bin";
		Dir::Cache::srcpkgcache "srcpkgcache.bin";
		Dir::Log "$APTDIR/log";
		#clear APT::Architectures;
		APT::Architectures { $archs};
		// The host's hooks act on the host's state: none of them here.
		#clear APT::Update::Pre-Invoke;
		#clear APT::Update::Post-Invoke;
		#clear APT::Update::Post-Invoke-Success;
		#clear DPkg::Pre-Invoke;
		#clear DPkg::Post-Invoke;
		#clear DPkg::Pre-Install-Pkgs;
		Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";
	EOF
	# _apt cannot write into a cache under a private home directory.
	[[ $(id -u) != 0 ]] || echo 'APT::Sandbox::User "root";' >>"$conf"
	export APT_CONFIG=$conf
	log "apt-get update (private state in $APTDIR)"
	if ! apt-get -qq update >&2; then
		[[ -n $(find "$APTDIR/state/lists" -maxdepth 1 -name '*Packages*' -print -quit) ]] ||
			die "apt-get update failed (APT_CONFIG=$conf)"
		log "warning: apt-get update failed: using the package lists of the last run"
	fi
}

build_mksigned() {
	if [[ -n ${MKSIGNED:-} ]]; then
		[[ -x $MKSIGNED ]] || die "MKSIGNED=$MKSIGNED is not an executable"
		return
	fi
	MKSIGNED=$WORK/mksigned
	log "go build ./cmd/mksigned"
	(cd "$REPO_DIR" && go build -o "$MKSIGNED" ./cmd/mksigned) || die "go build ./cmd/mksigned failed"
}

# make_key: a throwaway RSA-2048 key and certificate, for templates whose
# signatures cannot all be recovered from Debian's signed packages.
make_key() {
	KEY=$WORK/key/throwaway.key
	CERT=$WORK/key/throwaway.crt
	mkdir -p "$WORK/key"
	openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 \
		-subj '/CN=mksigned archive-check throwaway key/' -keyout "$KEY" -out "$CERT" 2>/dev/null ||
		die "openssl could not make a throwaway key"
}

# templates: "NAME VERSION ARCH" for every signing template to check.
templates() {
	local name arch ver
	apt-cache search --names-only -- '-signed-template$' | awk '$1 ~ /-signed-template$/ {print $1}' | sort -u |
		while read -r name; do
			(($# == 0)) || in_list "$name" "$@" || continue
			for arch in "${ARCHES[@]}"; do
				if [[ $VERSIONS == all ]]; then
					apt_versions "$name" "$arch"
				else
					apt-cache policy "$name:$arch" | awk '$1 == "Candidate:" && $2 != "(none)" {print $2}'
				fi | while read -r ver; do
					printf '%s %s %s\n' "$name" "$ver" "$arch"
				done
			done
		done
}

# in_list WORD LIST...: whether WORD is one of LIST.
in_list() {
	local w=$1 x
	shift
	for x in "$@"; do
		[[ $x == "$w" ]] && return 0
	done
	return 1
}

# apt_versions NAME ARCH: every version of NAME:ARCH apt can download.
apt_versions() {
	apt-cache madison "$1:$2" | awk -F'|' '{gsub(/ /, "", $2); if (!seen[$2]++) print $2}'
}

# fetch NAME VERSION ARCH: prints the path of the cached .deb of NAME
# VERSION for ARCH (which may be all), downloading it when absent. apt-get
# download writes NAME_VERSION_ARCH.deb, an epoch's colon as %3a; it
# downloads into a directory of its own, moved into place once complete,
# so an interrupted run leaves no partial file to be reused.
fetch() {
	local name=$1 ver=$2 arch=$3 f tmp
	f=$DEBS/${name}_${ver//:/%3a}_$arch.deb
	if [[ ! -s $f ]]; then
		tmp=$(mktemp -d "$DEBS/.partial.XXXXXX") || return 1
		echo "\$ apt-get download $name:$arch=$ver" >>"$LOG"
		if ! (cd "$tmp" && apt-get -qq download -- "$name:$arch=$ver") >>"$LOG" 2>&1 || [[ ! -s $tmp/${f##*/} ]]; then
			rm -rf "$tmp"
			return 1
		fi
		mv "$tmp/${f##*/}" "$f"
		rm -rf "$tmp"
	fi
	printf '%s\n' "$f"
}

# --- Debian control files, read with dpkg's own parser --------------------

# pick_version CONTROL ARCH PKG VERSION...: prints the highest VERSION of
# PKG that satisfies every relation of the source's Build-Depends,
# Build-Depends-Arch and Build-Depends-Indep that names PKG alone, on ARCH,
# with no build profile. Exits 3 if no relation names PKG with a version;
# 1, printing the relations, if no VERSION satisfies them.
pick_version() {
	perl -MDpkg::Control::Info -MDpkg::Deps -MDpkg::Version -e '
		my ($control, $arch, $pkg, @versions) = @ARGV;
		my $src = Dpkg::Control::Info->new($control)->get_source;
		my @rels;
		for my $field (qw(Build-Depends Build-Depends-Arch Build-Depends-Indep)) {
			next unless defined $src->{$field};
			my $deps = deps_parse($src->{$field}, build_dep => 1, reduce_arch => 1,
				host_arch => $arch, reduce_profiles => 1, build_profiles => [])
				or die "$control: cannot parse $field\n";
			for my $d ($deps->get_deps) {
				next unless $d->isa("Dpkg::Deps::Simple");
				next unless $d->{package} eq $pkg && defined $d->{relation};
				push @rels, $d;
			}
		}
		exit 3 unless @rels;
		for my $v (sort { version_compare($b, $a) } @versions) {
			next if grep { !version_compare_relation($v, $_->{relation}, $_->{version}) } @rels;
			print "$v\n";
			exit 0;
		}
		print join(", ", map { $_->output } @rels), "\n";
		exit 1;
	' "$@"
}

# template_binaries CONTROL ARCH: prints the source name, then each binary
# package (not udebs) that CONTROL builds on ARCH.
template_binaries() {
	perl -MDpkg::Control::Info -MDpkg::Arch=debarch_is -e '
		my ($control, $arch) = @ARGV;
		my $info = Dpkg::Control::Info->new($control);
		print $info->get_source->{Source}, "\n";
		for my $p ($info->get_packages) {
			my $type = $p->{"Package-Type"} // $p->{"XC-Package-Type"} // "deb";
			next if $type ne "deb";
			next unless grep { $_ eq "all" || debarch_is($arch, $_) } split " ", $p->{Architecture};
			print $p->{Package}, "\n";
		}
	' "$@"
}

# built_from SOURCE VERSION ARCH: reads apt-cache show stanzas and prints
# "PACKAGE VERSION ARCHITECTURE" for those built from SOURCE VERSION on
# ARCH. A binary's version may differ from its source's (linux-signed-*
# builds 6.1.192-3 from 6.1.192+3): apt then writes "Source: NAME (VERSION)".
built_from() {
	perl -00 -ne '
		BEGIN { ($src, $ver, $arch) = splice @ARGV, 0, 3 }
		my %f = /^([\w-]+):[ \t]*(.*)$/mg;
		my ($s, $sv) = ($f{Source} // $f{Package}) =~ /^(\S+)(?:\s+\((\S+)\))?/;
		$sv //= $f{Version};
		next unless $s eq $src && $sv eq $ver && ($f{Architecture} eq $arch || $f{Architecture} eq "all");
		print "$f{Package} $f{Version} $f{Architecture}\n" unless $seen{$f{Package}}++;
	' "$@"
}

# --- one template ------------------------------------------------------

# fail MESSAGE: the template's FAIL line; ends its subshell.
fail() {
	printf 'FAIL %s %s %s: %s\n' "$T_NAME" "$T_VER" "$T_ARCH" "$*"
	exit 1
}

# run CMD...: runs CMD with its output appended to $LOG; on failure sets
# ERR to its first error: the first FAIL line of its stdout (verify), else
# the first line of its stderr.
run() {
	local rc=0
	printf '$ %s\n' "$*" >>"$LOG"
	"$@" >"$W/stdout" 2>"$W/stderr" || rc=$?
	cat "$W/stdout" "$W/stderr" >>"$LOG"
	if ((rc != 0)); then
		ERR=$(grep -m1 '^FAIL' "$W/stdout" || grep -m1 . "$W/stderr" || echo "exit status $rc, no message")
	fi
	return "$rc"
}

# check_template NAME VERSION ARCH: prints the template's OK or FAIL line.
# Runs in a subshell of its own, with errexit: an unexpected failure of the
# script itself becomes a FAIL line too.
check_template() {
	T_NAME=$1 T_VER=$2 T_ARCH=$3
	local arch=$3 tdeb cs fj control changelog p v rc vers srcname cver d i j k n
	local notes=() upkgs=() unsigned=() bins=() signed=() missing=()
	LOG=$LOGS/${T_NAME}_${T_VER//:/%3a}_$arch.log
	W=$(mktemp -d "$WORK/template.XXXXXX")
	: >"$LOG"
	trap 'fail "script error: line $LINENO: $BASH_COMMAND"' ERR

	tdeb=$(fetch "$T_NAME" "$T_VER" "$arch") || fail "apt-get download $T_NAME:$arch=$T_VER failed"
	mkdir "$W/tpl"
	dpkg-deb --fsys-tarfile "$tdeb" 2>>"$LOG" | tar -xf - -C "$W/tpl" --wildcards \
		'./usr/share/code-signing/*/files.json' \
		'./usr/share/code-signing/*/source-template/debian/control' \
		'./usr/share/code-signing/*/source-template/debian/changelog' 2>>"$LOG" ||
		fail "${tdeb##*/} holds no ./usr/share/code-signing/*/{files.json,source-template/debian/control,changelog} (see the log)"
	cs=("$W"/tpl/usr/share/code-signing/*/files.json)
	[[ ${#cs[@]} == 1 && -f ${cs[0]} ]] || fail "want one usr/share/code-signing/*/files.json, found ${#cs[@]}"
	fj=${cs[0]}
	control=${fj%/files.json}/source-template/debian/control
	changelog=${fj%/files.json}/source-template/debian/changelog
	[[ -f $control && -f $changelog ]] || fail "no source-template/debian/control or changelog"

	# The unsigned packages, at the versions Build-Depends* pin.
	mapfile -t upkgs < <(jq -r '(.packages // .) | keys[]' "$fj" 2>>"$LOG")
	((${#upkgs[@]} > 0)) || fail "files.json names no packages"
	for p in "${upkgs[@]}"; do
		mapfile -t vers < <(apt_versions "$p" "$arch" 2>>"$LOG")
		((${#vers[@]} > 0)) || fail "unsigned $p:$arch is not in the archive"
		rc=0
		v=$(pick_version "$control" "$arch" "$p" "${vers[@]}" 2>>"$LOG") || rc=$?
		case $rc in
		0) ;;
		3)
			v=$(apt-cache policy "$p:$arch" | awk '$1 == "Candidate:" {print $2}')
			notes+=("Build-Depends pins no version of $p: took $v")
			;;
		1) fail "no version of unsigned $p:$arch in the archive satisfies $v (apt has ${vers[*]})" ;;
		*) fail "reading Build-Depends of $control failed" ;;
		esac
		d=$(fetch "$p" "$v" "$arch") || fail "apt-get download $p:$arch=$v failed"
		unsigned+=("$d")
	done

	# Debian's signed packages: what debian/control builds, from the
	# changelog's source version.
	mapfile -t bins < <(template_binaries "$control" "$arch" 2>>"$LOG")
	((${#bins[@]} > 0)) || fail "cannot read the source name from $control (see the log)"
	srcname=${bins[0]}
	bins=("${bins[@]:1}")
	cver=$(dpkg-parsechangelog -l "$changelog" -S Version)
	declare -A have=()
	while read -r p v k; do
		if d=$(fetch "$p" "$v" "$k"); then
			signed+=("$d")
			have[$p]=1
		fi
	done < <(apt-cache show "${bins[@]/%/:$arch}" "${bins[@]/%/:all}" 2>/dev/null | built_from "$srcname" "$cver" "$arch")
	for p in "${bins[@]}"; do
		[[ -n ${have[$p]:-} ]] || missing+=("$p")
	done
	((${#missing[@]} == 0)) ||
		notes+=("not in the archive from $srcname $cver: ${missing[*]}")

	# Debian's signatures, one candidate list per listed file.
	local lpkg=() lpath=() ltype=() ncand=() choice=() holds=() sigdir=$W/sigs keyed=''
	while IFS=$'\t' read -r p d k; do
		d=${d#./}
		lpkg+=("$p") lpath+=("${d#/}") ltype+=("$k")
	done < <(jq -r '(.packages // .) | to_entries[] | .key as $p | .value.files[] | [$p, .file, .sig_type] | @tsv' "$fj" 2>>"$LOG")
	((${#lpath[@]} > 0)) || fail "files.json lists no files"
	: >"$W/signed-files" # <index in signed> TAB <path>, regular files only
	for k in "${!signed[@]}"; do
		# Mode, owner, size, date, time, then ./path (mawk has no {5}).
		dpkg-deb -c "${signed[k]}" |
			awk -v k="$k" '/^-/ {sub(/^[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +(\.\/)?/, ""); print k "\t" $0}' >>"$W/signed-files"
	done
	mkdir "$W/cand"
	for i in "${!lpath[@]}"; do
		ncand[i]=0 choice[i]=0
		if [[ ${ltype[i]} != efi ]]; then
			keyed="${lpkg[i]} ${lpath[i]} is sig_type ${ltype[i]}: Debian's certificate is needed to check it"
			continue
		fi
		# Same path, else same basename or basename.signed.
		awk -F'\t' -v p="${lpath[i]}" '$2 == p' "$W/signed-files" >"$W/cand/$i.list"
		[[ -s $W/cand/$i.list ]] ||
			awk -F'\t' -v p="${lpath[i]##*/}" '{n = $2; sub(/.*\//, "", n)} n == p || n == p ".signed"' \
				"$W/signed-files" >"$W/cand/$i.list"
		j=0
		while IFS=$'\t' read -r k d; do
			mkdir -p "$W/x$k"
			[[ -f $W/x$k/$d ]] || dpkg-deb --fsys-tarfile "${signed[k]}" | tar -xf - -C "$W/x$k" "./$d" ||
				fail "extracting ./$d from ${signed[k]##*/} failed"
			holds[k]=1
			if run "$MKSIGNED" detach --type efi --output "$W/cand/$i.$j.sig" "$W/x$k/$d"; then
				j=$((j + 1))
			fi
		done <"$W/cand/$i.list"
		ncand[i]=$j
		if ((j == 0)); then
			keyed="no signature recovered for ${lpkg[i]} ${lpath[i]} from Debian's signed packages"
		else
			mkdir -p "$(dirname "$sigdir/${lpkg[i]}/${lpath[i]}")"
			cp "$W/cand/$i.0.sig" "$sigdir/${lpkg[i]}/${lpath[i]}.sig"
		fi
	done

	local uargs=("${unsigned[@]/#/--unsigned=}") sargs=() out=$W/out dsc
	if [[ -z $keyed ]]; then
		# Where a file has several candidates, generate refuses the ones
		# that are not over it: take the next and run it again.
		while ! run "$MKSIGNED" generate --template "$tdeb" "${uargs[@]}" --signatures "$sigdir" --output "$out"; do
			n=''
			for i in "${!lpath[@]}"; do
				if [[ $ERR == *"$sigdir/${lpkg[i]}/${lpath[i]}.sig does not match"* ]] && ((choice[i] + 1 < ncand[i])); then
					choice[i]=$((choice[i] + 1))
					cp "$W/cand/$i.${choice[i]}.sig" "$sigdir/${lpkg[i]}/${lpath[i]}.sig"
					n=$i
					break
				fi
			done
			[[ -n $n ]] || fail "generate --signatures: $ERR"
		done
		# The signed packages that hold a candidate: --signed needs no
		# other, and hashing every file of each kernel image takes long.
		for k in "${!holds[@]}"; do
			sargs+=(--signed "${signed[k]}")
		done
	else
		notes+=("$keyed: signed with a throwaway key")
		run "$MKSIGNED" generate --template "$tdeb" "${uargs[@]}" --key "$KEY" --cert "$CERT" --output "$out" ||
			fail "generate --key: $ERR"
		sargs=(--cert "$CERT")
	fi
	dsc=("$out"/*.dsc)
	[[ ${#dsc[@]} == 1 && -f ${dsc[0]} ]] || fail "generate wrote ${#dsc[@]} .dsc files"
	run "$MKSIGNED" verify --dsc "${dsc[0]}" "${uargs[@]}" "${sargs[@]}" || fail "verify: $ERR"

	local line="OK $T_NAME $T_VER $arch"
	((${#notes[@]} == 0)) || line+=" ($(printf '%s; ' "${notes[@]}" | sed 's/; $//'))"
	printf '%s\n' "$line"
}

# --- main --------------------------------------------------------------

case ${1:-} in
-h | --help)
	usage
	exit 0
	;;
-*) usage_error "unknown option $1" ;;
esac
[[ $VERSIONS == candidate || $VERSIONS == all ]] || usage_error "MKSIGNED_ARCHIVE_VERSIONS must be candidate or all, not $VERSIONS"

need_tools
start=$SECONDS
host_before=$(host_apt_state)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mksigned-archive-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
mkdir -p "$DEBS" "$LOGS"
rm -rf "$DEBS"/.partial.* # left by an interrupted run

build_mksigned
make_key
setup_apt

mapfile -t todo < <(templates "$@")
((${#todo[@]} > 0)) || die "apt knows no *-signed-template package${1:+ named $*} for ${ARCHES[*]}"
if (($# > 0)); then
	for name in "$@"; do
		found=''
		for t in "${todo[@]}"; do
			[[ ${t%% *} != "$name" ]] || found=1
		done
		[[ -n $found ]] || log "warning: apt knows no $name for ${ARCHES[*]}"
	done
fi

ok=0 failed=0
for t in "${todo[@]}"; do
	read -r name ver arch <<<"$t"
	log "checking $name $ver $arch"
	# Not `line=$(...) || ...`: errexit is off inside any part of an
	# || list, even where the subshell sets it again.
	set +e
	line=$(
		set -eE
		check_template "$name" "$ver" "$arch"
	)
	rc=$?
	set -e
	rm -rf "$WORK"/template.*
	[[ -n $line ]] || line="FAIL $name $ver $arch: the check ended with status $rc and no message"
	if ((rc == 0)) && [[ $line == OK* ]]; then
		ok=$((ok + 1))
	else
		failed=$((failed + 1))
		[[ $line == FAIL* ]] || line="FAIL $name $ver $arch: $line"
		log "log: $LOGS/${name}_${ver//:/%3a}_$arch.log"
	fi
	printf '%s\n' "$line"
done

printf '%d checked: %d OK, %d FAIL\n' $((ok + failed)) "$ok" "$failed"
log "took $(((SECONDS - start) / 60))m$(((SECONDS - start) % 60))s; cache $CACHE: $(du -sh "$CACHE" | cut -f1)"
[[ $(host_apt_state) == "$host_before" ]] ||
	log "warning: the host's apt lists or architectures changed during the run (another apt-get update?)"
((failed == 0))
