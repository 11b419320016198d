#!/bin/bash
# mirror.sh prints the Debian mirror this machine's apt uses for bookworm
# (the first URIs:/deb line of /etc/apt/sources.list*, skipping the
# security archive), or $DEBIAN_MIRROR when it is set. sysroot.sh and
# chroot-test.sh fetch Bookworm from it.
set -euo pipefail

if [ -n "${DEBIAN_MIRROR:-}" ]; then
	echo "$DEBIAN_MIRROR"
	exit 0
fi
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	case $f in
	*.sources) sed -n 's/^URIs:[[:space:]]*//p' "$f" | tr ' ' '\n' ;;
	*) sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' "$f" ;;
	esac
done | grep -v -e '-security' -e '^$' | grep -m1 '/debian/\?$' && exit 0
echo "mirror.sh: no Debian mirror in /etc/apt/sources.list*: set DEBIAN_MIRROR" >&2
exit 1
