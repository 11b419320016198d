#!/usr/bin/env bash
# deploy/progress.sh WHAT CMD...: runs CMD (a go build -v), printing
# WHAT and then, every 10 seconds until CMD ends, how long it has run and
# what it is building now, so that a long first build (the kiosk's cgo
# and Fyne: several minutes) never looks stuck. What it builds now is
# read from the compilers CMD runs, since go build -v names a package
# only once it is done and a cgo package's C can take two minutes. CMD's output
# goes to a log that is shown whole if it fails.
set -euo pipefail
what=$1
shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT
modcache=$(go env GOMODCACHE 2>/dev/null || true)
goroot=$(go env GOROOT 2>/dev/null || true)
module=$(go list -m 2>/dev/null || true)
root=$PWD

# descendants PID: every process under PID.
descendants() {
	local c
	for c in $(pgrep -P "$1" 2>/dev/null || true); do
		echo "$c"
		descendants "$c"
	done
}

# building PID: the packages PID's compilers work on now, "(C)" after
# those whose C is being compiled, comma-separated. Go's compile and asm
# name their package after -p, cgo after -importpath; the C compiler
# runs in the package's directory.
building() {
	local p comm name out=()
	for p in $(descendants "$1"); do
		comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
		case $comm in
		compile | asm) name=$(flag -p "$p") ;;
		cgo) name=$(flag -importpath "$p") && name="$name (C)" ;;
		link) name="(linking)" ;;
		cc1 | cc1plus) name=$(package_in "$(readlink "/proc/$p/cwd" 2>/dev/null)") && name="$name (C)" ;;
		*) continue ;;
		esac
		[[ -n $name ]] && out+=("$name")
	done
	if ((${#out[@]})); then
		printf '%s\n' "${out[@]}" | sort -u | paste -sd, - | sed 's/,/, /g'
	fi
}

# flag NAME PID: the value after NAME in PID's command line.
flag() {
	tr '\0' '\n' <"/proc/$2/cmdline" 2>/dev/null | sed -n "/^$1\$/{n;p;q}"
}

# package_in DIR: the import path of the package in DIR.
package_in() {
	if [[ -n $modcache && $1 == "$modcache"/* ]]; then
		# a module's directory: drop the cache, the @version and the
		# module cache's !-escaping of capitals.
		sed -e "s|^$modcache/||" -e 's|@[^/]*||' -e 's|!\(.\)|\U\1|g' <<<"$1"
	elif [[ -n $goroot && $1 == "$goroot"/src/* ]]; then
		echo "${1#"$goroot/src/"}"
	elif [[ -n $module && ($1 == "$root" || $1 == "$root"/*) ]]; then
		echo "$module${1#"$root"}"
	else
		return 1
	fi
}

echo "$what"
start=$SECONDS
"$@" >"$log" 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		sleep 1
		kill -0 "$pid" 2>/dev/null || break 2
	done
	now=$(building "$pid")
	if [[ -z $now ]]; then
		now=$(grep -v '^#' "$log" | tail -1 || true)
		now=${now:+last built: $now}
	else
		now="building: $now"
	fi
	printf '  ... %ds%s\n' $((SECONDS - start)) "${now:+, $now}"
done
if ! wait "$pid"; then
	cat "$log" >&2
	echo "failed: $*" >&2
	exit 1
fi
echo "  done in $((SECONDS - start))s"
