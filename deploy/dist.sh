#!/bin/bash
# dist.sh builds keycab's Debian packages into DIST (default dist/):
#   keycab        (the tool)  amd64 arm64 armhf
#   keycab-hq     (HQ)        amd64 arm64
#   keycab-kiosk  (the kiosk) amd64 arm64 armhf
# keycab and keycab-hq are pure Go (CGO_ENABLED=0), cross-compiled here.
# The kiosk links the Fyne UI with cgo: it is built for Wayland only (it
# runs under cage) with Debian's gcc for each architecture
# (x86_64-linux-gnu-gcc, aarch64-linux-gnu-gcc, arm-linux-gnueabihf-gcc)
# against a Bookworm sysroot that deploy/sysroot.sh makes from Debian's
# packages, so that it links only against what Bookworm (and Raspberry Pi
# OS Bookworm) has. The amd64 kiosk is there for x86 kiosks and for the
# maintainer scripts' test in a chroot (deploy/chroot-test.sh).
# KIOSK_BIN_DIR=DIR packages DIR/ARCH/keycab-kiosk instead of building it,
# for each ARCH that DIR has; KIOSK_ARCHES (default: amd64 arm64 armhf)
# chooses the architectures built.
#
# nfpm is pinned in deploy/nfpm/go.mod, a module of its own so that its
# dependencies stay out of keycab's. Run from the repository's root
# (make dist does).
set -euo pipefail

GO=${GO:-go}
DIST=${DIST:-dist}
mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd)
if [ -z "${VERSION:-}" ]; then
	VERSION=0.0~git$(git log -1 --format=%cd --date=format:%Y%m%d).$(git rev-parse --short=7 HEAD)
fi
export VERSION
DATE=$(git log -1 --format=%cd --date=rfc2822 2>/dev/null || date -R)
COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
build=$DIST/build
rm -rf "$build" "$DIST"/*.deb
mkdir -p "$build"

echo "nfpm (deploy/nfpm/go.mod)"
$GO -C deploy/nfpm build -o "$build/nfpm" github.com/goreleaser/nfpm/v2/cmd/nfpm

# The Debian changelog of each package: one entry naming the commit.
for pkg in keycab keycab-hq keycab-kiosk; do
	mkdir -p "$build/doc/$pkg"
	printf '%s (%s) unstable; urgency=medium\n\n  * Built from keycab commit %s.\n\n -- keycab maintainers <maintainers@keycab.dev>  %s\n' \
		keycab "$VERSION" "$COMMIT" "$DATE" | gzip -9n >"$build/doc/$pkg/changelog.gz"
done

# goarch DEB_ARCH: the Go environment for a Debian architecture.
goenv() {
	case $1 in
	amd64) echo "GOARCH=amd64" ;;
	arm64) echo "GOARCH=arm64" ;;
	armhf) echo "GOARCH=arm GOARM=7" ;;
	*) echo "unknown architecture $1" >&2; return 1 ;;
	esac
}

# gobuild DEB_ARCH PACKAGE...: pure-Go binaries into $build/DEB_ARCH.
gobuild() {
	local arch=$1; shift
	mkdir -p "$build/$arch"
	echo "go build $arch: $*"
	env CGO_ENABLED=0 GOOS=linux $(goenv "$arch") \
		$GO build -trimpath -buildvcs=false -ldflags="-s -w" -o "$build/$arch/" "$@"
}

# kioskbuild DEB_ARCH: keycab-kiosk (cgo, Wayland) into $build/kiosk/DEB_ARCH.
kioskbuild() {
	local arch=$1 triplet sysroot
	case $arch in
	amd64) triplet=x86_64-linux-gnu ;;
	arm64) triplet=aarch64-linux-gnu ;;
	armhf) triplet=arm-linux-gnueabihf ;;
	esac
	sysroot=$(deploy/sysroot.sh "$arch")
	mkdir -p "$build/kiosk/$arch"
	echo "go build $arch (cgo, $triplet-gcc, sysroot $sysroot): ./cmd/keycab-kiosk"
	env CGO_ENABLED=1 GOOS=linux $(goenv "$arch") CC="$triplet-gcc" \
		CGO_CFLAGS="--sysroot=$sysroot -O2 -g" CGO_LDFLAGS="--sysroot=$sysroot" \
		PKG_CONFIG=pkg-config PKG_CONFIG_SYSROOT_DIR="$sysroot" \
		PKG_CONFIG_LIBDIR="$sysroot/usr/lib/$triplet/pkgconfig:$sysroot/usr/share/pkgconfig" \
		$GO build -tags wayland,no_emoji -trimpath -buildvcs=false -ldflags="-s -w" \
		-o "$build/kiosk/$arch/" ./cmd/keycab-kiosk
}

# pkg NAME DEB_ARCH [BINDIR]: the .deb from deploy/nfpm/NAME.yaml, made in
# a staging directory where bin/ is BINDIR (default: this architecture's
# build), doc/ the changelogs, deploy/ and kiosk/ the repository's.
root=$(pwd)
pkg() {
	local stage=$build/stage-$1-$2
	mkdir -p "$stage"
	ln -sfn "${3:-$build/$2}" "$stage/bin"
	ln -sfn "$build/doc" "$stage/doc"
	ln -sfn "$root/deploy" "$stage/deploy"
	ln -sfn "$root/kiosk" "$stage/kiosk"
	(cd "$stage" && DEB_ARCH=$2 "$build/nfpm" package --packager deb \
		--config "deploy/nfpm/$1.yaml" --target "$DIST/") | sed 's/^/  /'
}

for arch in amd64 arm64 armhf; do
	case $arch in
	armhf) gobuild $arch ./cmd/keycab ;;
	*) gobuild $arch ./cmd/keycab ./cmd/keycab-hq ;;
	esac
	pkg keycab $arch
	[ $arch = armhf ] || pkg keycab-hq $arch
done

for arch in ${KIOSK_ARCHES:-amd64 arm64 armhf}; do
	if [ -n "${KIOSK_BIN_DIR:-}" ]; then
		[ -x "$KIOSK_BIN_DIR/$arch/keycab-kiosk" ] || continue
		pkg keycab-kiosk $arch "$KIOSK_BIN_DIR/$arch"
	else
		kioskbuild $arch
		pkg keycab-kiosk $arch "$build/kiosk/$arch"
	fi
done

ls -l "$DIST"/*.deb
