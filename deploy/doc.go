// Package deploy holds what ships keycab, and its tests: the directory has
// no Go code of its own.
//
//   - systemd/: keycab-hq.service and keycab-kiosk.service (cage on tty1).
//   - nfpm/: the nfpm configs of the Debian packages keycab, keycab-hq and
//     keycab-kiosk, and a go.mod of its own that pins nfpm.
//   - debian/: what the packages install besides the programs and units:
//     maintainer scripts, sysusers.d and tmpfiles.d files, /etc/keycab/hq.env,
//     README.Debian, copyright, lintian overrides.
//   - dist.sh: builds the packages into dist/ (make dist), the kiosk with
//     cgo through Debian's cross compilers against a Bookworm sysroot that
//     sysroot.sh makes from Debian's packages (mirror.sh names the mirror).
//   - demo.sh: make demo.
//   - monitoring/: Prometheus alert rules on HQ's metrics (keycab.rules.yml,
//     with promtool unit tests in keycab.rules.test.yml) and a Grafana
//     dashboard (keycab-grafana.json); keycab-hq installs both under
//     /usr/share/doc/keycab-hq/examples/monitoring/.
//
// The tests: monitoring_test.go runs promtool check rules and test rules,
// and checks that every series the rules and the dashboard name is one
// HQ exports; dist_test.go (make dist-test) runs systemd-analyze verify and
// security on the units and lintian on every package in $KEYCAB_DIST;
// elf_test.go checks each kiosk binary's architecture, needed libraries and
// glibc versions against Raspberry Pi OS Bookworm; chroot_test.go (make
// chroot-test, with KEYCAB_CHROOT=1, as root) installs, reinstalls, removes
// and purges the amd64 packages on a debootstrap Bookworm root. Without
// KEYCAB_DIST the package checks are skipped, and so are the unit checks
// where systemd-analyze is missing.
package deploy
