# keycab: make help lists the targets.
#
# Everything but the Fyne kiosk UI builds and tests with CGO_ENABLED=0.
# `make test` installs what the tests need on a fresh Debian machine
# (Debian packages with apt-get when missing, Go modules), then runs every
# test, including bounded fuzzing.

SHELL := /bin/bash
GO ?= go
export CGO_ENABLED ?= 0
BIN := bin
# A count, not a duration: a duration's deadline races Go's fuzzing
# coordinator and fails a clean run with "context deadline exceeded"
# (go.dev/issue/75804, not fixed in go1.26); 300000 runs take about 10 s
# per target here.
FUZZTIME ?= 300000x
TEST_TIMEOUT ?= 45m

# Debian packages the test suite uses: ffmpeg makes camera streams,
# zbar-tools and python3-zxing-cpp (zxing-cpp's Debian binding) are the QR
# reference decoders the benchmarks compare against, qrencode and
# imagemagick make the QR robustness set (hardware/qr/testdata/robustset.py),
# postgresql is HQ's second engine (the tests start their own server),
# the X11/GL -dev packages build the Fyne UI (cgo), Xvfb and x11-apps
# give it a real window to screenshot, ghostscript reads back the QR label
# sheets' PDF, prometheus brings promtool, which checks and unit-tests the
# alert rules in deploy/monitoring (its server is not started).
TEST_DEBS := ffmpeg zbar-tools libzbar0 python3 python3-zxing-cpp qrencode postgresql postgresql-contrib \
	gcc pkg-config libgl1-mesa-dev libgl1-mesa-dri xorg-dev libwayland-dev libxkbcommon-dev wayland-protocols \
	xvfb imagemagick ghostscript chromium fonts-dejavu-core prometheus

# The Fyne UI and the kiosk program need cgo; everything else is built and
# tested with CGO_ENABLED=0.
CGO_PKGS := ./kiosk/ui/... ./cmd/keycab-kiosk/...
# KIOSK_TAGS are the build tags of the kiosk program: no_emoji leaves out
# Fyne's 4 MB colour emoji font, which a kiosk never shows and which Fyne
# otherwise parses into memory for every text style (docs/PERFORMANCE.md,
# kiosk memory). deploy/dist.sh adds wayland for the cage session.
KIOSK_TAGS := no_emoji
PURE_PKGS = $(shell $(GO) list ./... | grep -v -e '/kiosk/ui' -e '/cmd/keycab-kiosk')

# Fuzz targets, as package:Target, each run for FUZZTIME by make fuzz.
FUZZ_TARGETS := \
	./audit:FuzzDecode \
	./audit:FuzzParseCheckpoint \
	./hardware/badge:FuzzRDM6300Decoder \
	./hardware/badge:FuzzLineDecoder \
	./hardware/badge:FuzzKeyDecoder \
	./hardware/badge:FuzzWiegand \
	./hardware/qr:FuzzDecode

.PHONY: help build test test-short deps demo-deps fuzz cross lint bench-once demo bench bench-qr clean

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

build: ## build the programs into bin/ (keycab and keycab-hq pure Go; keycab-kiosk with cgo)
	$(GO) build -o $(BIN)/ ./cmd/keycab ./cmd/keycab-hq
	CGO_ENABLED=1 $(GO) build -tags $(KIOSK_TAGS) -o $(BIN)/ ./cmd/keycab-kiosk

# install-debs installs those of the Debian packages $(1) that are missing.
define install-debs
	@missing=""; for p in $(1); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

# Debian packages `make demo` needs, and no more: the C toolchain and the
# X11/GL/Wayland headers the Fyne kiosk program builds against (cgo). The
# test toolchain (PostgreSQL, Chromium, ffmpeg, ...) stays with make test.
DEMO_DEBS := gcc pkg-config libgl1-mesa-dev xorg-dev libwayland-dev libxkbcommon-dev wayland-protocols

demo-deps: ## install only what make demo needs (Debian packages for the cgo kiosk build, Go modules)
	$(call install-debs,$(DEMO_DEBS))
	$(GO) mod download

deps: ## install the Debian packages and Go modules the tests need
	$(call install-debs,$(TEST_DEBS))
	$(GO) mod download

test: deps ## run every test (gofmt, vet, staticcheck, unit, integration, crash, UI, each benchmark once, fuzzing)
	$(MAKE) --no-print-directory lint
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(PURE_PKGS)
	CGO_ENABLED=1 $(GO) test -count=1 -tags $(KIOSK_TAGS) -timeout $(TEST_TIMEOUT) $(CGO_PKGS)
	$(MAKE) --no-print-directory bench-once cross fuzz dist-test qemu-test chroot-test
	$(MAKE) --no-print-directory vm-test vm-arm64-test VM_RESETS=$(TEST_VM_RESETS)

# bench-once runs every benchmark a single time (-benchtime=1x), so that a
# broken benchmark fails make test; the figures docs/PERFORMANCE.md quotes
# come from the longer runs its commands name.
bench-once: ## run every Go benchmark once, as a test that it still works
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout $(TEST_TIMEOUT) $(PURE_PKGS)
	CGO_ENABLED=1 $(GO) test -count=1 -tags $(KIOSK_TAGS) -run '^$$' -bench . -benchtime 1x -timeout $(TEST_TIMEOUT) $(CGO_PKGS)

cross: ## cross-compile the pure-Go parts for the Pi (arm64, armv7)
	GOOS=linux GOARCH=arm64 $(GO) build -o /dev/null ./hardware/... ./cmd/keycab
	GOOS=linux GOARCH=arm GOARM=7 $(GO) build -o /dev/null ./hardware/... ./cmd/keycab

test-short: ## the quick subset (-short): no long crash loops or big logs
	$(GO) test -count=1 -short $(PURE_PKGS)

fuzz: ## run each fuzz target FUZZTIME (default 300000x: that many inputs)
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name -fuzztime $(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) $$pkg; \
	done

lint: ## gofmt, go vet and staticcheck (make test runs it first)
	@out=$$(git ls-files -co --exclude-standard '*.go' | xargs -r gofmt -l); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PURE_PKGS)
	CGO_ENABLED=1 $(GO) vet -tags $(KIOSK_TAGS) $(CGO_PKGS)
	$(GO) tool staticcheck $(PURE_PKGS)
	CGO_ENABLED=1 $(GO) tool staticcheck -tags $(KIOSK_TAGS) $(CGO_PKGS)

# demo builds as build does, but shows progress: the kiosk's first cgo
# build takes minutes. KEYCAB_DEMO_PORT (default 8080) is HQ's port.
demo: demo-deps ## a local HQ with the demo organisation, and the simulated kiosk enrolled with it (KEYCAB_DEMO_PORT=8080)
	@deploy/progress.sh "building bin/keycab and bin/keycab-hq (pure Go)" $(GO) build -v -o $(BIN)/ ./cmd/keycab ./cmd/keycab-hq
	@deploy/progress.sh "building bin/keycab-kiosk (cgo and Fyne: a few minutes the first time, cached after)" env CGO_ENABLED=1 $(GO) build -v -tags $(KIOSK_TAGS) -o $(BIN)/ ./cmd/keycab-kiosk
	BIN=$(BIN) deploy/demo.sh

bench: build ## the audit log benchmark of docs/PERFORMANCE.md (1,000,000 entries)
	rm -f /tmp/keycab-bench.db*
	$(BIN)/keycab bench audit --db /tmp/keycab-bench.db -n 1000000 --synced 3000

# QR_DEBS are what bench-qr needs of TEST_DEBS: the robustness set's makers
# and the two reference decoders.
QR_DEBS := qrencode imagemagick python3 python3-zxing-cpp zbar-tools libzbar0

bench-qr: ## the QR robustness benchmark of docs/PERFORMANCE.md: keycab, zxing-cpp and zbar on 120 frames
	$(call install-debs,$(QR_DEBS))
	$(GO) test ./hardware/qr -run '^$$' -bench RobustSet -benchtime 5x -count 1

clean: ## remove build output
	rm -rf $(BIN) keycab-demo

# The phone page's QR decoder for browsers without BarcodeDetector: jsQR
# from npm, pinned, vendored into the dashboard's static files (committed,
# so go build needs no npm). hq/dashboard/vendor_test.go holds the file's
# SHA-256 beside the version: after make vendor-js, record the new digest
# there. npm pack fetches the one package, runs none of its scripts.
JSQR_VERSION := 1.4.0
JSQR_DIR := hq/dashboard/web/static

.PHONY: vendor-js
vendor-js: ## vendor jsQR JSQR_VERSION from npm into the dashboard's static files
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent jsqr@$(JSQR_VERSION) >/dev/null && tar xzf jsqr-$(JSQR_VERSION).tgz) && \
	test "$$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$$tmp/package/package.json")" = "$(JSQR_VERSION)" && \
	cp "$$tmp/package/dist/jsQR.js" $(JSQR_DIR)/jsQR.js && \
	cp "$$tmp/package/LICENSE" $(JSQR_DIR)/jsQR.LICENSE.txt && \
	sha256sum $(JSQR_DIR)/jsQR.js $(JSQR_DIR)/jsQR.LICENSE.txt

# Debian packages (deploy/): dist builds keycab (amd64, arm64, armhf),
# keycab-hq (amd64, arm64) and keycab-kiosk (amd64, arm64, armhf) into DIST
# with the nfpm pinned in deploy/nfpm/go.mod; the kiosk (cgo) with Debian's
# gcc for each architecture against a Bookworm sysroot made from Debian's
# packages by deploy/sysroot.sh (cached in ~/.cache/keycab/sysroot).
# dist-test runs lintian on every package, systemd-analyze verify and
# security on every unit, and checks the kiosk's ELF: its architecture,
# needed libraries and glibc versions against Bookworm (deploy/*_test.go).
DIST ?= dist
DIST_DEBS := lintian systemd dpkg-dev
KIOSK_DEBS := gcc gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf pkg-config apt dpkg debian-archive-keyring

.PHONY: dist dist-test qemu-test chroot-test vm-test vm-arm64-test

dist: ## build the Debian packages into dist/ (deploy/dist.sh)
	$(call install-debs,$(KIOSK_DEBS))
	DIST=$(DIST) GO=$(GO) deploy/dist.sh

dist-test: dist ## lintian, systemd-analyze and the kiosk's ELF on the packages and units
	$(call install-debs,$(DIST_DEBS))
	KEYCAB_DIST=$(abspath $(DIST)) $(GO) test -count=1 -timeout 10m -v ./deploy

# qemu-test: the pure-Go tests (-short) cross-compiled for arm64 and armhf
# and run under Debian's qemu-user-static (go test -exec; no binfmt_misc
# needed). QEMU_SKIP leaves out, in every package:
# - tests that run a program built for the target as a child process (they
#   go build cmd/keycab, or re-execute their own test binary to be killed):
#   without binfmt_misc the kernel cannot exec an arm64/arm child ("exec
#   format error"): TestExportVerifies, TestExportRejectsDamage
#   (audit/exportcheck), TestPowerCutMidFlow (kiosk), TestCrashSIGKILL
#   (store); hq's tests build the keycab tool for the host instead
#   (keycabTool), so TestKioskLogTiles and TestPublicKioskLog run there;
# - TestWiegandOnPins (hardware/badge): its simulated pins are driven
#   bit by bit against the reader's 50 ms end-of-frame timeout in real
#   time, which emulation on a loaded machine overruns: once under
#   qemu-aarch64 a frame was cut in two and read as another code.
# Host programs the tests start (postgres, ffmpeg) run natively.
# (TestTakeAndReturn, TestWrongSlotReturn and TestOpenShelfByQR were
# skipped too: the kiosk's flow tests ran on real time, with 100 ms Done
# screens and a 200 ms scan cool-down, and each failed in one of two runs
# under emulation. They now run the controller on a manual clock and wait
# on what it has done, never on time; they run on both.)
# (The QR tests once failed on armhf: the binarizer read the sign bit as
# bit 63, always 0 in a 32-bit int. Fixed; they run on both.)
QEMU_DEBS := qemu-user-static
QEMU_SKIP_TESTS := TestExportVerifies|TestExportRejectsDamage|TestPowerCutMidFlow|TestCrashSIGKILL|TestWiegandOnPins
QEMU_SKIP := ^($(QEMU_SKIP_TESTS))$$
QEMU_TIMEOUT ?= 30m

qemu-test: ## the pure-Go tests (-short) for arm64 and armhf under qemu-user
	$(call install-debs,$(QEMU_DEBS))
	GOARCH=arm64 $(GO) test -count=1 -short -timeout $(QEMU_TIMEOUT) -skip '$(QEMU_SKIP)' -exec qemu-aarch64-static $(PURE_PKGS)
	GOARCH=arm GOARM=7 $(GO) test -count=1 -short -timeout $(QEMU_TIMEOUT) -skip '$(QEMU_SKIP)' -exec qemu-arm-static $(PURE_PKGS)

# chroot-test: the amd64 packages of dist installed with apt on a clean
# Debian Bookworm root (debootstrap --variant=minbase from the mirror this
# machine's apt uses), checked, reinstalled, removed and purged
# (deploy/chroot_test.go). debootstrap's packages and those apt fetches are
# cached in ~/.cache/keycab. Needs root.
CHROOT_DEBS := debootstrap debian-archive-keyring

chroot-test: dist ## install, remove and purge the amd64 packages on a clean Debian root
	$(call install-debs,$(CHROOT_DEBS) $(DIST_DEBS))
	KEYCAB_DIST=$(abspath $(DIST)) KEYCAB_CHROOT=1 $(GO) test -count=1 -timeout 30m -v -run '^TestChrootInstall$$' ./deploy

# vm-test: the amd64 keycab and keycab-kiosk packages of dist installed
# with apt in a booted Debian Bookworm VM (qemu-system-x86_64, KVM when
# /dev/kvm is usable, TCG otherwise; the kernel and initramfs booted
# directly, no bootloader), the kiosk enrolled with a keycab-hq on the
# host's loopback and run under the package's systemd unit and watchdog
# on kernel devices the test drives from outside the kiosk (a gpio-sim
# chip's lines, an RDM6300 on a UART, a keyboard-wedge reader through
# uinput, a v4l2loopback camera, the i6300esb watchdog): a take and a
# return checked at HQ, a wiring file naming a missing line refused, then
# the faults: the network cut and restored, the kiosk frozen (SIGSTOP)
# and restarted by its watchdog, VM_RESETS power cuts in the middle of a
# take (qemu killed, the disk a qcow2 overlay kept across boots), the
# packages upgraded in place and purged, systemd frozen and the hardware
# watchdog resetting the VM (deploy/vm_test.go, vmrig_test.go,
# vmfault_test.go; docs/HARDWARE.md "A virtual Pi"). The image (a raw
# ext4 disk debootstrapped from the mirror this machine's apt uses, with
# the packages' dependencies, and gpio-sim and v4l2loopback built out of
# tree for its kernel) is cached in ~/.cache/keycab/vm, its packages in
# ~/.cache/keycab/vm-debootstrap and ~/.cache/keycab/vm-kbuild-apt.
# Needs root.
VM_DEBS := qemu-system-x86 qemu-utils debootstrap debian-archive-keyring e2fsprogs openssh-client ffmpeg
# VM_RESETS is how many times vm-test cuts the power: 20 by hand (the
# figures in docs/HARDWARE.md), TEST_VM_RESETS (6) in make test, whose
# whole run must stay inside CI's 90 minutes: each cut costs about 70 s
# under TCG, most of it the boot.
VM_RESETS ?= 20
TEST_VM_RESETS ?= 6

vm-test: dist ## boot a Debian VM, install the packages, run the enrolled kiosk under systemd, fault it (VM_RESETS power cuts)
	$(call install-debs,$(VM_DEBS))
	KEYCAB_DIST=$(abspath $(DIST)) KEYCAB_VM=1 KEYCAB_VM_RESETS=$(VM_RESETS) $(GO) test -count=1 -timeout 80m -v -run '^TestVMKiosk$$' ./deploy

# vm-arm64-test: the arm64 smoke test: the arm64 keycab and keycab-kiosk
# packages of dist installed with apt in a booted Debian Bookworm arm64
# VM under qemu's TCG (qemu-system-aarch64 -M virt, a Cortex-A72, the
# kernel and initramfs booted directly), the kiosk, on a simulated
# cabinet, enrolled with a keycab-hq on the host's loopback and run under
# the package's systemd unit and watchdog, its heartbeats checked at HQ
# (deploy/vmarm64_test.go; the long flows stay with vm-test). The host
# runs no arm64 program and needs no binfmt_misc: debootstrap --foreign
# unpacks the root, and the VM's first boot, into an initramfs of
# deploy/vminit, runs debootstrap's second stage. The image is cached in
# ~/.cache/keycab/vm-arm64, debootstrap's packages in
# ~/.cache/keycab/vm-arm64-debootstrap. Needs root.
VM_ARM64_DEBS := qemu-system-arm debootstrap debian-archive-keyring e2fsprogs openssh-client

vm-arm64-test: dist ## boot a Debian arm64 VM under TCG, install the arm64 packages, enrol the kiosk
	$(call install-debs,$(VM_ARM64_DEBS))
	KEYCAB_DIST=$(abspath $(DIST)) KEYCAB_VM_ARM64=1 $(GO) test -count=1 -timeout 40m -v -run '^TestVMArm64$$' ./deploy
