#!/bin/bash
# sysroot.sh DEB_ARCH: prints the directory of a Debian Bookworm sysroot for
# DEB_ARCH (amd64, arm64 or armhf) holding what the Fyne kiosk links against (its
# Wayland build: libc, libGL, wayland-client/-cursor/-egl, xkbcommon),
# making it first when it is missing or its package list changed.
#
# The sysroot is Debian's own arm64/armhf packages, fetched with apt from
# the mirror this machine uses (deploy/mirror.sh) into an apt state of its
# own and unpacked with dpkg-deb: the host's dpkg never sees a foreign
# architecture, so the host's package versions (Multi-Arch: same) do not
# constrain it. Debian's cross compilers (gcc-aarch64-linux-gnu,
# gcc-arm-linux-gnueabihf) build against it with --sysroot.
#
# Cached in ${KEYCAB_CACHE:-$HOME/.cache/keycab}/sysroot/DEB_ARCH.
set -euo pipefail

arch=${1:?usage: sysroot.sh amd64|arm64|armhf}
case $arch in amd64 | arm64 | armhf) ;; *) echo "sysroot.sh: unknown architecture $arch" >&2; exit 2 ;; esac

# Only Bookworm's main suite, not its updates: what links against it runs on
# every Bookworm, and so on Raspberry Pi OS Bookworm.
PKGS="libc6-dev libgl-dev libegl-dev libwayland-dev libxkbcommon-dev"
cache=${KEYCAB_CACHE:-$HOME/.cache/keycab}/sysroot
root=$cache/$arch
mirror=$(cd "$(dirname "$0")" && ./mirror.sh)
stamp="$mirror bookworm main: $PKGS"
if [ -f "$root/.keycab-sysroot" ] && [ "$(cat "$root/.keycab-sysroot")" = "$stamp" ]; then
	echo "$root"
	exit 0
fi

state=$cache/$arch.apt
rm -rf "$root" "$state"
mkdir -p "$root" "$state/lists/partial" "$state/archives/partial" "$state/parts" "$state/dpkg"
: >"$state/dpkg/status"
echo "deb [arch=$arch signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm main" >"$state/sources.list"
apt=(apt-get -q -o APT::Architecture="$arch" -o APT::Architectures="$arch"
	-o Dir::State="$state" -o Dir::State::Lists="$state/lists" -o Dir::State::status="$state/dpkg/status"
	-o Dir::Cache="$state" -o Dir::Cache::Archives="$state/archives"
	-o Dir::Etc::SourceList="$state/sources.list" -o Dir::Etc::SourceParts="$state/parts"
	-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts="$state/parts"
	-o APT::Sandbox::User=root -o APT::Install-Recommends=false -o APT::Get::Download-Only=true)
echo "sysroot $arch: fetching $PKGS and their dependencies from $mirror" >&2
"${apt[@]}" update >&2
"${apt[@]}" install -y $PKGS >&2
n=0
for deb in "$state"/archives/*.deb; do
	dpkg-deb -x "$deb" "$root"
	n=$((n + 1))
done
rm -rf "$state"
echo "sysroot $arch: $n packages unpacked into $root" >&2
echo "$stamp" >"$root/.keycab-sysroot"
echo "$root"
