// Package deploy holds what ships keycab, and its tests: the directory has
// no Go code of its own.
//
//   - systemd/: keycab-hq.service and keycab-kiosk.service (cage on tty1).
//   - nfpm/: the nfpm configs of the Debian packages keycab, keycab-hq and
//     keycab-kiosk, and a go.mod of its own that pins nfpm.
//   - debian/: what the packages install besides the programs and units:
//     maintainer scripts, sysusers.d and tmpfiles.d files, /etc/keycab/hq.env,
//     README.Debian, copyright, lintian overrides.
//   - dist.sh: builds the packages into dist/ (make dist).
//
// The tests (make dist-test) run systemd-analyze verify and security on the
// units, and lintian on every package in $KEYCAB_DIST. Without
// KEYCAB_DIST, the package checks are skipped, and so are the unit checks
// where systemd-analyze is missing.
package deploy
