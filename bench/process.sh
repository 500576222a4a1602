#!/bin/bash
# The batch queue (issue 12 §3): `mksigned process --once` on an incoming
# directory of BENCH_TEMPLATES (200) templates, from an empty state,
# against `mksigned generate` of the same templates one at a time.
#
# The templates: Debian's fwupd and shim-helpers templates (committed in
# testdata/debian/) repeated under new versions (the package's Version
# and the changelog's top version get a +bN suffix; the Build-Depends
# pin, and so the one unsigned package each needs, stay), plus generated
# ones: a package of its own (bench-genN-unsigned, one EFI image, shim's
# mmx64.efi) and the template `mksigned template init` and `template
# build` make for it. A third of each real kind, a third generated.
#
# Three figures, each hyperfine's median:
# - process --once of all from an empty state, per template;
# - generate of one template of each kind (a fresh process each run, as
#   a service would run it), weighted by how many of each kind: the
#   work itself, which the queue cannot avoid;
# - process --once again over the finished state (every template
#   skipped as done): the queue's scan (every .deb's control, every
#   template's SHA-256) and state look-ups, with no work.
# The queue's own cost is process's time over generate's.
#
# With a mksigned whose process takes --state postgres://... (the
# PostgreSQL state), and PostgreSQL installed: a throwaway cluster
# (initdb + pg_ctl in a temporary directory, a unix socket only, run as
# the postgres user when root), and one `process --once` against two
# started together on one database (a new one each run), both
# processing the same incoming directory into one output directory. The
# two summaries' processed lists must be disjoint and together every
# template. Without that state, the line says so (a TODO until it is
# merged).
#
# Env: BENCH_RUNS (default 3: process runs), BENCH_TEMPLATES (default 200),
# BENCH_PG (default 1; 0 skips PostgreSQL).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=${BENCH_RUNS:-3}
total=${BENCH_TEMPLATES:-200}
((total >= 3)) || die "BENCH_TEMPLATES must be at least 3"
nfwupd=$((total / 3))
nshim=$((total / 3))
ngen=$((total - nfwupd - nshim))

need_bench_tools
check_load
make_key
make_work
build_mksigned

td=$REPO_DIR/testdata/debian
fwupd_tpl=$(echo "$td"/fwupd-amd64-signed-template_*_amd64.deb)
fwupd_unsigned=$(echo "$td"/fwupd-unsigned_*_amd64.deb)
shim_tpl=$(echo "$td"/shim-helpers-amd64-signed-template_*_amd64.deb)
shim_unsigned=$(echo "$td"/shim-unsigned_*_amd64.deb)
for f in "$fwupd_tpl" "$fwupd_unsigned" "$shim_tpl" "$shim_unsigned"; do
	[[ -f $f ]] || die "missing $f"
done

in=$WORK/incoming
mkdir -p "$in"
cp "$fwupd_unsigned" "$shim_unsigned" "$in/"

# md5sums ROOT: DEBIAN/md5sums for the files under ROOT, as dpkg-deb -b
# packs them (the edit changed the changelog's).
md5sums() {
	(cd "$1" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$1/DEBIAN/md5sums"
}

# variants TEMPLATE N: N copies of TEMPLATE in $in, the package version
# and the changelog's top version suffixed +b1 ... +bN.
variants() {
	local tpl=$1 n=$2 base=$WORK/base.$$ root=$WORK/root.$$ ver changelog top i
	rm -rf "$base"
	dpkg-deb -R "$tpl" "$base"
	ver=$(sed -n 's/^Version: //p' "$base/DEBIAN/control")
	changelog=$(echo "$base"/usr/share/code-signing/*/source-template/debian/changelog)
	[[ -f $changelog ]] || die "${tpl##*/}: no source-template/debian/changelog"
	top=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$changelog")
	[[ -n $top ]] || die "${tpl##*/}: no version on the changelog's first line"
	for ((i = 1; i <= n; i++)); do
		rm -rf "$root"
		cp -a "$base" "$root"
		sed -i "s/^Version: .*/Version: $ver+b$i/" "$root/DEBIAN/control"
		sed -i "1s/($top)/($top+b$i)/" "${changelog/#$base/$root}"
		md5sums "$root"
		dpkg-deb --root-owner-group -Zgzip -b "$root" "$in/" >/dev/null
	done
	rm -rf "$base" "$root"
}

log "making $nfwupd fwupd and $nshim shim-helpers template versions"
variants "$fwupd_tpl" "$nfwupd"
variants "$shim_tpl" "$nshim"

log "making $ngen generated packages and their templates"
efi=$WORK/gen.efi
dpkg-deb --fsys-tarfile "$shim_unsigned" | tar -xOf - ./usr/lib/shim/mmx64.efi >"$efi"
gen=$WORK/gen
for ((i = 1; i <= ngen; i++)); do
	root=$gen/root$i
	mkdir -p "$root/DEBIAN" "$root/usr/lib/bench-gen$i"
	cp "$efi" "$root/usr/lib/bench-gen$i/gen.efi"
	printf 'Package: bench-gen%d-unsigned\nVersion: 1.%d-1\nArchitecture: amd64\nMaintainer: mksigned bench <bench@example.org>\nDescription: an EFI image for bench/process.sh\n' \
		"$i" "$i" >"$root/DEBIAN/control"
	deb=$in/bench-gen$i-unsigned_1.$i-1_amd64.deb
	dpkg-deb --root-owner-group -Zgzip -b "$root" "$deb" >/dev/null
	"$MKSIGNED" template init --unsigned "$deb" --output "$gen/signing$i.yaml" >/dev/null
	"$MKSIGNED" template build "$gen/signing$i.yaml" --unsigned "$deb" --deb "$in" >/dev/null
done
n=$(find "$in" -name '*-signed-template_*.deb' | wc -l)
((n == total)) || die "made $n templates, want $total"

# One run outside the timing: checks that every template is processed
# (and warms the page cache).
state=$WORK/state out=$WORK/out
process=("$MKSIGNED" process --incoming "$in" --output "$out" --state "$state" --key "$KEY" --cert "$CERT" --once --json)
"${process[@]}" >"$WORK/summary.json" || die "process --once failed: $(jq -c '.failed' "$WORK/summary.json" 2>/dev/null)"
got=$(jq -r '[(.processed, .skipped, .waiting, .failed) | length] | map(tostring) | join(" ")' "$WORK/summary.json")
[[ $got == "$total 0 0 0" ]] || die "process --once: processed, skipped, waiting, failed: $got, want $total 0 0 0"
n=$(find "$out" -name '*.dsc' | wc -l)
((n == total)) || die "$out holds $n .dsc, want $total"

measure process "$runs" "rm -rf $(q "$state" "$out")" "$(q "${process[@]}") >/dev/null"
measure noop "$runs" true "$(q "${process[@]}") >/dev/null"
got=$("${process[@]}" | jq -r '.skipped | length')
[[ $got == "$total" ]] || die "the pass over the done state skipped $got, want $total"

# generate of one template of each kind.
measure gen_fwupd 0 "rm -rf $(q "$WORK/g")" \
	"$(q "$MKSIGNED" generate --quiet --template "$in/$(basename "$fwupd_tpl" .deb | sed 's/_amd64$//')+b1_amd64.deb" \
		--unsigned "$fwupd_unsigned" --key "$KEY" --cert "$CERT" --output "$WORK/g")"
measure gen_shim 0 "rm -rf $(q "$WORK/g")" \
	"$(q "$MKSIGNED" generate --quiet --template "$in/$(basename "$shim_tpl" .deb | sed 's/_amd64$//')+b1_amd64.deb" \
		--unsigned "$shim_unsigned" --key "$KEY" --cert "$CERT" --output "$WORK/g")"
measure gen_gen 0 "rm -rf $(q "$WORK/g")" \
	"$(q "$MKSIGNED" generate --quiet --template "$in/bench-gen1-amd64-signed-template_1.1-1_amd64.deb" \
		--unsigned "$in/bench-gen1-unsigned_1.1-1_amd64.deb" --key "$KEY" --cert "$CERT" --output "$WORK/g")"

# The queue's output is generate's, byte for byte (the last generate
# above made bench-gen1's).
name=$(basename "$(echo "$WORK"/g/*.dsc)" .dsc)
for f in "$name.dsc" "$name.tar.xz"; do
	cmp "$out/$name/$f" "$WORK/g/$f" >&2 || die "process and generate wrote different $f"
done

# weighted NAME: the kinds' NAME (TIME or CPU) figures weighted by their
# counts, over total: generate's time a template. sum of the kinds' TIME (or CPU) figures, over total.
weighted() {
	local -n fig=$1
	awk -v f="${fig[gen_fwupd]}" -v s="${fig[gen_shim]}" -v g="${fig[gen_gen]}" \
		-v nf="$nfwupd" -v ns="$nshim" -v ng="$ngen" -v t="$total" 'BEGIN { print (nf * f + ns * s + ng * g) / t }'
}
ms() { awk -v s="$1" 'BEGIN { printf "%.1f ms", s * 1000 }'; }
per() { awk -v s="$1" -v t="$total" 'BEGIN { print s / t }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.0f%%", (a / b - 1) * 100 }'; }

# PostgreSQL: one worker against two.
pg_line="postgres: not measured (TODO: this mksigned's process has no PostgreSQL state)"
if [[ ${BENCH_PG:-1} == 0 ]]; then
	pg_line="postgres: not measured (BENCH_PG=0)"
elif "$MKSIGNED" process -h 2>&1 | grep -E 'postgres(ql)?://' >/dev/null; then
	pgbin=$(find /usr/lib/postgresql -path '*/bin/initdb' 2>/dev/null | sort -V | tail -1)
	pgbin=${pgbin%/initdb}
	[[ -n $pgbin ]] || die "no /usr/lib/postgresql/*/bin/initdb: apt-get install postgresql (or BENCH_PG=0)"
	# Short: a unix socket's path is at most 107 bytes.
	pgdir=$(mktemp -d /tmp/mksigned-pg.XXXXXX)
	pgport=$((20000 + RANDOM % 20000))
	as_pg=()
	if [[ $(id -u) == 0 ]]; then
		chown postgres: "$pgdir"
		as_pg=(runuser -u postgres --)
	fi
	pg() { "${as_pg[@]}" "$pgbin/$1" "${@:2}"; }
	trap 'pg pg_ctl -D "$pgdir/data" -m immediate stop >/dev/null 2>&1; rm -rf "$WORK" "$pgdir"' EXIT
	log "starting a throwaway PostgreSQL cluster ($pgbin) in $pgdir"
	pg initdb -D "$pgdir/data" -U mksigned -A trust -E UTF8 --no-sync --locale=C.UTF-8 >"$pgdir/initdb.log" 2>&1 ||
		die "initdb failed: $(cat "$pgdir/initdb.log")"
	pg pg_ctl -D "$pgdir/data" -l "$pgdir/log" -w -o "-p $pgport -k $pgdir -c listen_addresses=" start >/dev/null ||
		die "postgres did not start: $(cat "$pgdir/log")"
	url="postgres://mksigned@/bench?host=$pgdir&port=$pgport"
	fresh="$(q "$pgbin/dropdb" -h "$pgdir" -p "$pgport" -U mksigned --if-exists bench) && $(q "$pgbin/createdb" -h "$pgdir" -p "$pgport" -U mksigned bench) && rm -rf $(q "$out")"
	pgp=("$MKSIGNED" process --incoming "$in" --output "$out" --state "$url" --key "$KEY" --cert "$CERT" --once --json)
	measure pg1 "$runs" "$fresh" "$(q "${pgp[@]}") >$(q "$WORK/pg1.json")"
	got=$(jq -r '.processed | length' "$WORK/pg1.json")
	[[ $got == "$total" ]] || die "one worker on PostgreSQL processed $got, want $total"
	two="$(q "${pgp[@]}") >$(q "$WORK/pg2a.json") & a=\$!; $(q "${pgp[@]}") >$(q "$WORK/pg2b.json"); b=\$?; wait \$a && [ \$b = 0 ]"
	measure pg2 "$runs" "$fresh" "bash -c $(q "$two")"
	# The last run's two summaries: each template processed by one.
	jq -r '.processed[] | .template + " " + .version' "$WORK/pg2a.json" "$WORK/pg2b.json" | sort >"$WORK/pg2.list"
	got=$(sort -u "$WORK/pg2.list" | wc -l)
	[[ $(wc -l <"$WORK/pg2.list") == "$total" && $got == "$total" ]] ||
		die "two workers processed $(wc -l <"$WORK/pg2.list") jobs, $got distinct, want $total"
	na=$(jq '.processed | length' "$WORK/pg2a.json")
	pg_line=$(printf 'postgres: one worker %s (cpu %s), %s a template; two workers %s (cpu %s; %d and %d templates): %sx' \
		"$(fmt_s "${TIME[pg1]}")" "$(fmt_s "${CPU[pg1]}")" "$(ms "$(per "${TIME[pg1]}")")" \
		"$(fmt_s "${TIME[pg2]}")" "$(fmt_s "${CPU[pg2]}")" "$na" "$((total - na))" "$(ratio "${TIME[pg1]}" "${TIME[pg2]}")")
fi

p=$(per "${TIME[process]}") pc=$(per "${CPU[process]}")
g=$(weighted TIME) gc=$(weighted CPU)
printf 'process: %d templates (%d fwupd, %d shim-helpers, %d generated) from an empty state: %s (cpu %s, %d MB), %s a template (cpu %s); generate of each alone: %s a template (cpu %s; fwupd %s, shim %s, generated %s): the queue %s wall, %s cpu; a pass over the %d done: %s, %s a template; %s\n' \
	"$total" "$nfwupd" "$nshim" "$ngen" "$(fmt_s "${TIME[process]}")" "$(fmt_s "${CPU[process]}")" "${RSS[process]}" \
	"$(ms "$p")" "$(ms "$pc")" "$(ms "$g")" "$(ms "$gc")" \
	"$(ms "${TIME[gen_fwupd]}")" "$(ms "${TIME[gen_shim]}")" "$(ms "${TIME[gen_gen]}")" \
	"$(pct "$p" "$g")" "$(pct "$pc" "$gc")" "$total" "$(fmt_s "${TIME[noop]}")" "$(ms "$(per "${TIME[noop]}")")" "$pg_line"
