package deploy_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/internal/testenv"
)

// The faults of TestVMKiosk on the booted system: the cabinet's network
// cut, the kiosk frozen, the power cut, the package upgraded and purged,
// systemd frozen.

// networkCut pulls the cabinet's network cable (vm.link), takes and
// returns slot 4's key with HQ out of reach, plugs it back and waits for
// the kiosk to catch up: HQ ends with the kiosk's whole log, the offline
// take and return in it.
func (r *vmRig) networkCut(t *testing.T) {
	t.Helper()
	r.caughtUp(t, time.Now(), 2*time.Minute, "HQ up to date before the cut")
	r.v.link(t, false)
	cut := time.Now()
	r.take(t, 4)
	r.giveBack(t, 4)
	offline := r.verified(t, "the network cut")
	if h, _ := r.health(t, "vm-kiosk"); h.LogSize >= offline {
		t.Errorf("with the network cut HQ holds %d entries of the kiosk's %d, the offline take and return among them", h.LogSize, offline)
	}
	r.v.link(t, true)
	back := time.Now()
	size := r.caughtUp(t, back, 3*time.Minute, "the kiosk caught up with HQ after the network came back")
	if size < offline {
		t.Errorf("HQ holds %d entries after the cut, the kiosk had %d", size, offline)
	}
	var taken, returned bool
	for _, e := range r.hqEvents(t) {
		if e.KeySetID == r.keySets[4] && e.At.After(cut.Add(-time.Minute)) {
			taken = taken || e.Kind == keycab.EventKeyTaken
			returned = returned || e.Kind == keycab.EventKeyReturned
		}
	}
	if !taken || !returned {
		t.Errorf("HQ lacks the take (%v) or the return (%v) of slot 4 made offline", taken, returned)
	}
	t.Logf("network cut for %v; the kiosk's log %d entries when it came back; HQ held all %d (cosigned) %v later",
		back.Sub(cut).Round(100*time.Millisecond), offline, size, time.Since(back).Round(100*time.Millisecond))
}

// frozenKiosk freezes the kiosk (SIGSTOP) with slot 3 open for a take:
// it stops pinging systemd's watchdog (WatchdogSec=30s), systemd kills
// and restarts it, and the restarted kiosk has every lock secured and
// nothing High from the moment the frozen one's lines were freed.
func (r *vmRig) frozenKiosk(t *testing.T) {
	t.Helper()
	v := r.v
	show := func() (pid, restarts, state string) {
		p := r.unit(t, "MainPID", "NRestarts", "ActiveState")
		return p["MainPID"], p["NRestarts"], p["ActiveState"]
	}
	pid, restarts, _ := show()
	r.openForTake(t, 3)
	frozen := time.Now()
	v.run(t, "kill -STOP "+pid)
	var freed, restarted time.Duration
	for deadline := frozen.Add(4 * time.Minute); restarted == 0; {
		if freed == 0 && !r.chip.levels(t)["SLOT3_LOCK"] {
			freed = time.Since(frozen)
		}
		if p, n, st := show(); p != pid && p != "0" && st == "active" {
			restarted = time.Since(frozen)
			if want := strconv.Itoa(atoi(t, restarts) + 1); n != want {
				t.Errorf("NRestarts %s after the frozen kiosk's restart, want %s", n, want)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the frozen kiosk not restarted in %v:\n%s", time.Since(frozen), v.run(t, "systemctl status --no-pager keycab-kiosk.service"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if freed == 0 {
		t.Errorf("slot 3's lock still High when the kiosk restarted")
	}
	if j := v.run(t, "journalctl --no-pager -o cat -u keycab-kiosk.service | grep -i -F watchdog || true"); !strings.Contains(j, "Watchdog timeout") {
		t.Errorf("no watchdog timeout in the unit's journal:\n%s", j)
	}
	// From the frozen kiosk's lines freed (slot 3's lock Low again) on,
	// nothing is High: the new kiosk secures every lock and opens none.
	rec := r.watched(t)
	for i := len(rec) - 1; i >= 0; i-- {
		if rec[i][1] == "SLOT3_LOCK" && rec[i][2] == "0" {
			r.watchFrom = i + 1
			break
		}
	}
	r.ready(t, "the watchdog's restart")
	r.verified(t, "after the watchdog's restart")
	t.Logf("kiosk frozen with slot 3 open: slot 3's lock released for %v more (max_on is 10 s; the frozen kiosk's timer cannot run, the line is freed when systemd kills it), restarted %v after the freeze",
		freed.Round(100*time.Millisecond), restarted.Round(100*time.Millisecond))
}

// powerCuts cuts the VM's power n times in the middle of a take of a
// slot's key, at one of four points in turn, and a random few
// hundred milliseconds later: the slot open with the key in; the key just
// out; the take just shown as done; the door just closed after it (up to
// 100 ms later). After each
// cut the VM boots again and: every lock line has been Low from the
// chip's first moment until the kiosk is idle (vmRig.ready); the log
// verifies as the cut left it, before the kiosk starts, and again, every
// entry signed, once it has; every take the kiosk showed as done is in
// it, and every entry HQ had cosigned; HQ takes the kiosk's next pushes
// (it would refuse a log that changed what it holds). The cabinet is put
// back as it was (the key returned, or put back when no take was
// recorded) before the next cut. In the end HQ holds exactly the kiosk's
// log, entry for entry.
func (r *vmRig) powerCuts(t *testing.T, n int) {
	t.Helper()
	v := r.v
	rng := rand.New(rand.NewPCG(testenv.Seed(t), 20))
	acked := map[string]int{} // key set: takes shown as done
	var boots []time.Duration
	unsigned := 0
	unsignedRE := regexp.MustCompile(`newest (\d+ entries|entry) (are|is) not signed`)
	for i := range n {
		// Each slot the demo's Ben may take alone (slot 2 is reserved
		// for Chloe, slot 5 needs a second person) at each point in turn.
		slot := []int{1, 3, 4, 6}[i%4]
		ks, point := r.keySets[slot], (i+i/4)%4
		hqBefore := r.caughtUp(t, time.Now(), 3*time.Minute, "HQ up to date before the power cut")
		r.openForTake(t, slot)
		if point > 0 {
			r.chip.set(t, "DOOR_SENSE", true)
			r.chip.set(t, fmt.Sprintf("SLOT%d_SENSE", slot), false)
		}
		if point > 1 {
			r.expect(t, fmt.Sprintf("slot %d's key sensor Low", slot), "Taken:")
			acked[ks]++
		}
		wait := time.Duration(rng.IntN(400)) * time.Millisecond
		if point > 2 {
			// The door's entry is appended as the line falls: a cut this
			// soon after it may find it committed but not yet signed
			// (store.DefaultSealDelay).
			r.chip.set(t, "DOOR_SENSE", false)
			wait /= 4
		}
		time.Sleep(wait)
		v.powerCut()
		cut := time.Now()
		v.boot(t, 3*time.Minute)
		boots = append(boots, time.Since(cut))
		r.rebooted(t)
		when := fmt.Sprintf("power cut %d (slot %d, point %d)", i+1, slot, point)
		r.ready(t, when)
		r.checkWatchdog(t)

		pre := v.run(t, "cat /run/keycab-vm-preverify")
		if !strings.HasPrefix(pre, "ok: ") || !strings.HasSuffix(strings.TrimSpace(pre), "exit 0") {
			t.Fatalf("%s: the log as the cut left it does not verify:\n%s", when, pre)
		}
		if m := unsignedRE.FindStringSubmatch(pre); m != nil {
			k, _ := strconv.Atoi(strings.Fields(m[1])[0])
			if m[1] == "entry" {
				k = 1
			}
			unsigned += k
		}
		size := r.verified(t, when)
		if size < hqBefore {
			t.Fatalf("%s: the kiosk's log has %d entries, HQ had cosigned %d", when, size, hqBefore)
		}
		entries := r.kioskLog(t)
		out := map[string]bool{}
		taken := map[string]int{}
		for _, e := range entries {
			switch keycab.EventKind(e.Kind) {
			case keycab.EventKeyTaken:
				out[e.KeySet] = true
				taken[e.KeySet]++
			case keycab.EventKeyReturned:
				out[e.KeySet] = false
			}
		}
		for k, a := range acked {
			if taken[k] < a {
				t.Fatalf("%s: the kiosk showed %d takes of %s as done, its log holds %d", when, a, k, taken[k])
			}
		}
		r.caughtUp(t, cut, 3*time.Minute, when+": HQ taking the kiosk's pushes again")

		// The cabinet as it was before the take.
		switch {
		case out[ks]:
			r.giveBack(t, slot)
		case point > 0:
			r.chip.set(t, fmt.Sprintf("SLOT%d_SENSE", slot), true)
			r.chip.set(t, "DOOR_SENSE", false)
		}
		t.Logf("%s: booted in %v, log %d entries (HQ had %d), the slot's key out: %v", when, boots[len(boots)-1].Round(100*time.Millisecond), size, hqBefore, out[ks])
	}
	if n == 0 {
		return
	}

	// HQ holds exactly the kiosk's log.
	entries := r.kioskLog(t)
	size := r.caughtUp(t, time.Now(), 3*time.Minute, "HQ up to date after the power cuts")
	if size != int64(len(entries)) {
		t.Fatalf("HQ holds %d entries, the kiosk's log %d", size, len(entries))
	}
	kinds := map[int64]keycab.EventKind{}
	for _, e := range r.hqEvents(t) {
		kinds[e.LogIndex] = e.Kind
	}
	for _, e := range entries {
		if kinds[e.Index] != keycab.EventKind(e.Kind) {
			t.Errorf("entry %d: %s in the kiosk's log, %q at HQ", e.Index, e.Kind, kinds[e.Index])
		}
	}
	slowest := time.Duration(0)
	var total time.Duration
	for _, b := range boots {
		slowest, total = max(slowest, b), total+b
	}
	t.Logf("%d power cuts: entries lost 0 (every take shown as done and every entry HQ had cosigned was in the log after each boot; HQ holds the kiosk's %d entries); %d entries were left unsigned by a cut and signed by the kiosk at its next start; every lock line Low from each boot's first moment; boot to SSH %v on average, %v at most",
		n, len(entries), unsigned, (total / time.Duration(len(boots))).Round(100*time.Millisecond), slowest.Round(100*time.Millisecond))
}

// upgrade installs a newer build of the two packages over the running
// kiosk: the same programs repackaged at a higher version, so that dpkg
// and apt upgrade them and the maintainer scripts run as an upgrade
// (prerm upgrade, postinst configure with the old version: the kiosk
// restarted on the new files). The enrolment (the kiosk's key), the
// data (the log, verified), the wiring file (a changed conffile) and the
// kiosk's identity at HQ are kept.
func (r *vmRig) upgrade(t *testing.T) {
	t.Helper()
	v := r.v
	dir := t.TempDir()
	var newer []string
	version := ""
	for _, deb := range r.debs {
		old := strings.TrimSpace(MustRun(t, "dpkg-deb", "-f", deb, "Version"))
		version = old + "+vmtest1"
		tree := filepath.Join(dir, filepath.Base(deb)+".d")
		MustRun(t, "dpkg-deb", "-R", deb, tree)
		control := filepath.Join(tree, "DEBIAN", "control")
		b, err := os.ReadFile(control)
		if err != nil {
			t.Fatal(err)
		}
		// The version, and any dependency on the other package at it.
		text := strings.ReplaceAll(string(b), old, version)
		if err := os.WriteFile(control, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, strings.TrimSpace(MustRun(t, "dpkg-deb", "-f", deb, "Package"))+"_"+version+"_amd64.deb")
		MustRun(t, "dpkg-deb", "--root-owner-group", "-b", tree, out)
		newer = append(newer, out)
	}
	sums := func() string {
		return v.run(t, "sha256sum /var/lib/keycab/kiosk.key /etc/keycab/kiosk.conf")
	}
	before, size := sums(), r.verified(t, "before the upgrade")
	entries := r.kioskLog(t)
	pid := r.unit(t, "MainPID")["MainPID"]
	r.mark = len(v.run(t, "cat /run/keycab-console.out"))
	r.watchMark(t)
	upgraded := time.Now()
	t.Logf("apt-get install (upgrade to %s): %s", version, lastLines(r.aptInstall(t, newer), 2))
	for _, pkg := range []string{"keycab", "keycab-kiosk"} {
		if got := strings.TrimSpace(v.run(t, "dpkg-query -W -f '${Version} ${db:Status-Abbrev}' "+pkg)); got != version+" ii" {
			t.Errorf("%s after the upgrade: %q, want %q", pkg, got, version+" ii")
		}
	}
	r.ready(t, "the upgrade")
	if now := r.unit(t, "MainPID")["MainPID"]; now == pid {
		t.Errorf("the kiosk was not restarted by the upgrade (pid %s)", pid)
	}
	if after := sums(); after != before {
		t.Errorf("the upgrade changed the kiosk's key or wiring:\nbefore %s\nafter  %s", before, after)
	}
	if n := r.verified(t, "after the upgrade"); n < size {
		t.Errorf("the log has %d entries after the upgrade, %d before", n, size)
	}
	for i, e := range r.kioskLog(t)[:len(entries)] {
		if e != entries[i] {
			t.Fatalf("entry %d changed in the upgrade: %+v, was %+v", i, e, entries[i])
		}
	}
	r.caughtUp(t, upgraded, 3*time.Minute, "the upgraded kiosk heartbeating and up to date at HQ")
	if h, _ := r.health(t, "vm-kiosk"); h.ID != r.kiosk {
		t.Errorf("the upgraded kiosk is %s at HQ, was %s", h.ID, r.kiosk)
	}
	r.badge(t, vmBen, "Hello")
	r.say(t, "cancel", "[idle]")
}

// purge purges both packages: the kiosk stops with its locks secured, and
// nothing of the packages is left (their files, conffiles and the data
// directory; the keycab user stays, as Debian's policy has it).
func (r *vmRig) purge(t *testing.T) {
	t.Helper()
	v := r.v
	files := strings.Fields(v.run(t, `dpkg-query -L keycab keycab-kiosk | while read -r f; do [ -f "$f" ] && echo "$f"; done; true`))
	if len(files) < 5 {
		t.Fatalf("dpkg-query -L lists only %v", files)
	}
	out := v.run(t, "DEBIAN_FRONTEND=noninteractive apt-get purge -y -q keycab-kiosk keycab 2>&1")
	t.Logf("apt-get purge: %s", lastLines(strings.ReplaceAll(out, "\r", "\n"), 2))
	r.secured(t, "after the purge")
	left := v.run(t, "for f in "+strings.Join(files, " ")+" /var/lib/keycab /etc/keycab/kiosk.conf; do [ -e \"$f\" ] && echo \"$f\"; done; "+
		"pgrep -a -x keycab-kiosk; dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n' keycab keycab-kiosk 2>/dev/null | grep -v ' pn' ; true")
	if strings.TrimSpace(left) != "" {
		t.Errorf("left after the purge:\n%s", left)
	}
	if st := r.unit(t, "LoadState")["LoadState"]; st != "not-found" {
		t.Errorf("keycab-kiosk.service is %q after the purge, want not-found", st)
	}
	if out, err := v.try(30*time.Second, "id keycab"); err != nil {
		t.Errorf("the keycab user is gone after the purge (%v %s); Debian's policy keeps it", err, out)
	}
	t.Logf("purged: %d files of the packages, /var/lib/keycab and the wiring file gone", len(files))
}

// systemdFrozen freezes systemd (PID 1): nothing pings the i6300esb, which
// resets the VM (and qemu, run with -no-reboot, ends) with no orderly
// shutdown on the console.
func (r *vmRig) systemdFrozen(t *testing.T) {
	t.Helper()
	v := r.v
	froze := time.Now()
	v.run(t, "echo 1 > /sys/fs/cgroup/init.scope/cgroup.freeze")
	select {
	case err := <-v.done:
		v.done <- err
		t.Logf("systemd frozen: the i6300esb watchdog reset the VM %v later (qemu: %v)", time.Since(froze).Round(100*time.Millisecond), err)
	case <-time.After(3 * time.Minute):
		t.Fatalf("systemd frozen for 3 minutes, and the %s hardware watchdog has not reset the VM", vmWatchdog)
	}
	if b, _ := os.ReadFile(v.console); strings.Contains(string(b), "reboot: ") {
		t.Errorf("the VM shut down in order after systemd froze, not by the watchdog:\n%s", lastLines(string(b), 10))
	}
}

// unit returns properties of keycab-kiosk.service (systemctl show).
func (r *vmRig) unit(t *testing.T, props ...string) map[string]string {
	t.Helper()
	args := ""
	for _, p := range props {
		args += " -p " + p
	}
	m := map[string]string{}
	for _, l := range strings.Split(r.v.run(t, "systemctl show"+args+" keycab-kiosk.service"), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	for _, p := range props {
		if _, ok := m[p]; !ok {
			t.Fatalf("systemctl show keycab-kiosk.service: no %s in %v", p, m)
		}
	}
	return m
}

// atoi is strconv.Atoi failing the test.
func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
