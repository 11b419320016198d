package e2e_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/internal/testenv"
	"keycab.dev/keycab/store"
)

// TestTouchEnrolment: HQ and a kiosk as separate processes. A fob
// enrolled and a badge linked at the running kiosk's touchscreen (its
// console) show at HQ, naming the kiosk; a later, unrelated edit at HQ
// keeps them at the kiosk. Then, while HQ is down, the kiosk enrols a fob
// on a key set HQ deletes and links a badge HQ links to another member:
// once HQ is back both are refused, in HQ's admin log, and the kiosk,
// told by its next bundle, drops them and logs the refusals. A slot the
// kiosk empties is empty at HQ.
func TestTouchEnrolment(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the end-to-end test runs HQ and a kiosk")
	}
	engines(t, touchEnrolment)
}

func touchEnrolment(t *testing.T, dsn, appDSN string) {
	ctx := context.Background()
	dir := t.TempDir()
	h, env := startHQ(t, dsn, dir)
	k := enrolKiosk(t, dsn, env, h.url(), "kiosk1", filepath.Join(dir, "kiosk1"))
	k.start(t)
	c := signIn(t, h, env)
	st, sc := openHQ(t, appDSN, env)
	members := map[string]keycab.Member{} // by first name
	for _, m := range mustT[[]keycab.Member](t)(st.ListMembers(ctx, sc)) {
		members[strings.Fields(m.Name)[0]] = m
	}
	cabinet := env["KEYCAB_DEMO_CABINET"]
	slots := mustT[[]keycab.Slot](t)(st.ListSlots(ctx, sc, cabinet))
	const ana, ben, newBen, newFob = "0A00B1C2D3", "0A00B1C2D4", "0A00B1C2E1", "kc1.touch-e2e-fob"
	asAdmin := func() {
		t.Helper()
		time.Sleep(3100 * time.Millisecond) // the scan cool-down
		k.say(t, "badge "+ana, "Enter your PIN")
		k.say(t, "pin 1234", "Hello, Ana")
		k.say(t, "admin", "Administration")
	}

	// At the touchscreen: a fob for slot 1's key set, a badge for Ben.
	asAdmin()
	k.say(t, "enrol 1", "Show the new label")
	k.say(t, "qr "+newFob, "Label enrolled for")
	k.say(t, "link "+members["Ben"].ID, "Present Ben's new badge")
	k.say(t, "badge "+newBen, "Badge linked to Ben")
	k.say(t, "cancel", "Scan your badge")

	// HQ shows them, enrolled at kiosk1.
	var toks struct {
		Tokens []struct {
			Kiosk string `json:"enrolled_at_kiosk"`
		} `json:"tokens"`
	}
	var badges struct {
		Badges []struct {
			Kiosk string `json:"linked_at_kiosk"`
		} `json:"badges"`
	}
	fromKiosk := func() (fobs, cards int) {
		toks.Tokens, badges.Badges = nil, nil
		c.call(t, "GET", "/v1/key-sets/"+slots[0].KeySetID+"/tokens", nil, 200, &toks)
		c.call(t, "GET", "/v1/members/"+members["Ben"].ID+"/badges", nil, 200, &badges)
		for _, tk := range toks.Tokens {
			if tk.Kiosk == "kiosk1" {
				fobs++
			}
		}
		for _, b := range badges.Badges {
			if b.Kiosk == "kiosk1" {
				cards++
			}
		}
		return fobs, cards
	}
	testenv.Eventually(t, 10*time.Second, "HQ showing the fob and the badge from kiosk1", func() bool {
		fobs, cards := fromKiosk()
		return fobs == 1 && cards == 1
	})

	// An unrelated edit at HQ: the kiosk reloads, and keeps both.
	k.reloads = strings.Count(k.p.errb.String(), "config reloaded")
	label := "Office spare, renamed"
	c.call(t, "PATCH", "/v1/key-sets/"+slots[len(slots)-1].KeySetID, map[string]any{"label": label}, 200, nil)
	testenv.Eventually(t, liveWithin, "kiosk1 reloading after the edit", func() bool {
		return strings.Count(k.p.errb.String(), "config reloaded") > k.reloads
	})
	time.Sleep(3100 * time.Millisecond)
	k.say(t, "badge "+newBen, "Hello, Ben")
	k.say(t, "cancel", "Scan your badge")
	asAdmin()
	k.say(t, "enrol 2", "Show the new label")
	k.say(t, "qr "+newFob, "that label already belongs to key set "+slots[0].KeySetID)
	k.say(t, "cancel", "Scan your badge")
	if fobs, cards := fromKiosk(); fobs != 1 || cards != 1 {
		t.Fatalf("after the edit HQ shows %d fobs and %d badges from kiosk1", fobs, cards)
	}

	// Conflicts. Slot 6 homes a key set of its own, then HQ goes down;
	// at the kiosk a fob is enrolled on it and a badge linked to Dev.
	cab := mustT[keycab.Cabinet](t)(st.GetCabinet(ctx, sc, cabinet))
	last := slots[len(slots)-1]
	temp := mustT[keycab.KeySet](t)(st.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: cab.SiteID, Label: "Temporary"}))
	homed := last
	homed.KeySetID = temp.ID
	k.reloads = strings.Count(k.p.errb.String(), "config reloaded")
	mustNil(t, st.SetSlot(ctx, sc, homed))
	testenv.Eventually(t, liveWithin, "kiosk1 reloading after the slot's change", func() bool {
		return strings.Count(k.p.errb.String(), "config reloaded") > k.reloads
	})
	h.p.stop(t, syscall.SIGTERM)
	const tempFob, shared = "kc1.touch-e2e-temp", "0A00B1C2E2"
	asAdmin()
	k.say(t, "enrol "+strconv.Itoa(last.Number), "Show the new label for Temporary")
	k.say(t, "qr "+tempFob, "Label enrolled for Temporary")
	k.say(t, "link "+members["Dev"].ID, "Present Dev's new badge")
	k.say(t, "badge "+shared, "Badge linked to Dev")
	k.say(t, "cancel", "Scan your badge")
	// Meanwhile at HQ: the slot gets its key set back and the temporary
	// one is deleted; the same badge is linked to Chloe.
	mustNil(t, st.SetSlot(ctx, sc, last))
	mustNil(t, st.DeleteKeySet(ctx, sc, temp.ID))
	mustT[keycab.Badge](t)(st.AddBadge(ctx, sc, members["Chloe"].ID, keycab.BadgeRFID, shared))
	h.start(t)

	// HQ refuses both (the first link HQ applied wins), in its admin log
	// with what it held and what the kiosk asked.
	testenv.Eventually(t, 2*time.Minute, "HQ refusing both touchscreen changes", func() bool {
		var log struct {
			Actions []struct{ Action, Detail string } `json:"actions"`
		}
		c.call(t, "GET", "/v1/admin-log?limit=1000", nil, 200, &log)
		n := 0
		for _, a := range log.Actions {
			if a.Action == "kiosk.change.refused" && strings.Contains(a.Detail, `"before"`) && strings.Contains(a.Detail, `"after"`) {
				n++
			}
		}
		return n == 2
	})
	var kiosks struct {
		Kiosks []struct{ ID string } `json:"kiosks"`
	}
	c.call(t, "GET", "/v1/kiosks", nil, 200, &kiosks)
	var refusals struct {
		Refusals []struct{ Change, Reason string } `json:"refusals"`
	}
	c.call(t, "GET", "/v1/kiosks/"+kiosks.Kiosks[0].ID+"/refusals", nil, 200, &refusals)
	if len(refusals.Refusals) != 2 || refusals.Refusals[0].Change != keycab.ChangeBadgeLinked || refusals.Refusals[1].Change != keycab.ChangeTokenEnrolled {
		t.Fatalf("HQ's API lists the kiosk's refusals as %+v", refusals.Refusals)
	}
	// The kiosk, told by its next bundle, gives the badge to Chloe; Dev's
	// link is gone.
	for start := time.Now(); ; {
		time.Sleep(3100 * time.Millisecond)
		k.say(t, "badge "+shared, "")
		time.Sleep(300 * time.Millisecond)
		got := k.p.out.String()[k.mark:]
		k.say(t, "cancel", "")
		if strings.Contains(got, "Hello, Chloe") {
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("the badge HQ linked to Chloe is still Dev's at the kiosk: %s", got)
		}
	}
	if fobs, _ := fromKiosk(); fobs != 1 {
		t.Fatalf("HQ shows %d fobs from kiosk1 on slot 1's key set after the refusals", fobs)
	}

	// A slot mapped at the touchscreen: slot 6 empty, then HQ's too.
	asAdmin()
	k.say(t, "map "+strconv.Itoa(last.Number)+" -", "Slot "+strconv.Itoa(last.Number)+" is now empty.")
	k.say(t, "cancel", "Scan your badge")
	testenv.Eventually(t, 10*time.Second, "HQ showing the slot the kiosk emptied", func() bool {
		var cd struct {
			Slots []struct {
				Number   int    `json:"number"`
				KeySetID string `json:"key_set_id"`
			} `json:"slots"`
		}
		c.call(t, "GET", "/v1/cabinets/"+cabinet, nil, 200, &cd)
		for _, sl := range cd.Slots {
			if sl.Number == last.Number {
				return sl.KeySetID == ""
			}
		}
		return false
	})

	// The kiosk logged each refusal once.
	k.quit(t)
	db, err := store.Open(ctx, filepath.Join(k.dir, "kiosk.db"), store.Options{ReadOnly: true})
	mustNil(t, err)
	defer db.Close()
	var reasons []string
	mustNil(t, db.Scan(ctx, 0, -1, func(e store.Entry) error {
		ev, err := audit.Decode(e.Leaf)
		if err == nil && ev.Kind == keycab.EventAdminChange && ev.Detail["change"] == keycab.ChangeRefused {
			reasons = append(reasons, ev.Detail["refused_change"]+": "+ev.Detail["reason"])
		}
		return err
	}))
	all := strings.Join(reasons, "\n")
	if len(reasons) != 2 || !strings.Contains(all, keycab.ChangeTokenEnrolled+": key set") || !strings.Contains(all, keycab.ChangeBadgeLinked+": that badge already belongs to member "+members["Chloe"].ID) {
		t.Fatalf("the kiosk logged refusals:\n%s", all)
	}
	h.p.stop(t, syscall.SIGTERM)
}

func mustT[T any](tb testing.TB) func(T, error) T {
	return func(v T, err error) T {
		tb.Helper()
		mustNil(tb, err)
		return v
	}
}

func mustNil(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
