package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// TestSubjectAccess: the record of one member holds every part, only
// that member's and only that organisation's, and only owners, admins
// and the member themself may have it.
func TestSubjectAccess(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, e)
			a, b := f.a, f.b
			now := time.Now()
			own := a.as(a.owner)
			subject := a.staff
			// The subject's own parts.
			must[keycab.Badge](t)(f.s.AddBadge(ctx, own, subject.ID, keycab.BadgeRFID, "0011223344"))
			must[keycab.Badge](t)(f.s.AddBadge(ctx, own, a.admin.ID, keycab.BadgeRFID, "9999999999"))
			must[keycab.Reservation](t)(f.s.CreateReservation(ctx, own, keycab.Reservation{KeySetID: a.ks1.ID, MemberID: subject.ID, From: now.Add(time.Hour), Until: now.Add(2 * time.Hour)}))
			MustNoErr(t, f.s.RecordEvents(ctx, a.kiosk(), []store.Event{
				{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: subject.ID, KeySetID: a.ks1.ID, At: now.Add(-3 * time.Minute)},
				{LogIndex: 1, Kind: keycab.EventKeyTaken, ActorID: a.admin.ID, KeySetID: a.ks2.ID, At: now.Add(-2 * time.Minute),
					EventRecord: store.EventRecord{SecondID: subject.ID}},
				{LogIndex: 2, Kind: keycab.EventKeyReturned, ActorID: a.admin.ID, KeySetID: a.ks2.ID, At: now.Add(-time.Minute)},
			}))
			MustNoErr(t, f.s.RecordEvents(ctx, b.kiosk(), []store.Event{{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: b.staff.ID, KeySetID: b.ks1.ID, At: now}}))
			must[store.Delivery](t)(f.s.Accounts().RecordDelivery(ctx, store.Delivery{OrgID: a.org.ID, Kind: "notice", To: subject.Email, Subject: "Overdue", Status: "dry-run"}))
			must[store.Delivery](t)(f.s.Accounts().RecordDelivery(ctx, store.Delivery{OrgID: a.org.ID, Kind: "notice", To: a.admin.Email, Subject: "Not theirs", Status: "dry-run"}))
			// The same address in another organisation is not this member.
			must[store.Delivery](t)(f.s.Accounts().RecordDelivery(ctx, store.Delivery{OrgID: b.org.ID, Kind: "notice", To: subject.Email, Subject: "Other org", Status: "dry-run"}))
			MustNoErr(t, f.s.SetMemberSites(ctx, own, subject.ID, []string{a.site1.ID}))

			rec, err := f.s.SubjectAccess(ctx, a.as(a.admin), subject.ID)
			MustNoErr(t, err)
			if rec.Member.ID != subject.ID || rec.Member.Name != subject.Name || rec.OrgID != a.org.ID || rec.MadeBy != a.admin.ID || rec.Member.PINHash != "" {
				t.Fatalf("profile %+v", rec)
			}
			if len(rec.Badges) != 1 || len(rec.Reservations) != 1 || rec.Reservations[0].MemberID != subject.ID {
				t.Fatalf("badges %v reservations %v", rec.Badges, rec.Reservations)
			}
			var kinds []string
			for _, ev := range rec.Events {
				kinds = append(kinds, fmt.Sprint(ev.LogIndex))
				if ev.ActorID != subject.ID && ev.SecondID != subject.ID && ev.ThirdID != subject.ID {
					t.Errorf("event %d is not theirs: %+v", ev.LogIndex, ev)
				}
			}
			if strings.Join(kinds, ",") != "0,1" {
				t.Fatalf("events %v, want their take and the one they approved", kinds)
			}
			if len(rec.Deliveries) != 1 || rec.Deliveries[0].Subject != "Overdue" {
				t.Fatalf("deliveries %+v", rec.Deliveries)
			}
			if len(rec.Holding) != 1 || rec.Holding[0].KeySetID != a.ks1.ID {
				t.Fatalf("holding %+v", rec.Holding)
			}
			var actions []string
			for _, l := range rec.AdminLog {
				if l.Target != subject.ID && l.ActorID != subject.ID {
					t.Errorf("admin log entry not about them: %+v", l)
				}
				actions = append(actions, l.Action)
			}
			if !strings.Contains(strings.Join(actions, " "), "member.create") || !strings.Contains(strings.Join(actions, " "), "badge") {
				t.Fatalf("admin log %v", actions)
			}
			// The contractor's jobs are theirs.
			crec := must[store.SubjectRecord](t)(f.s.SubjectAccess(ctx, a.as(a.owner), a.contractor.ID))
			if len(crec.Jobs) != 1 || crec.Jobs[0].ID != a.job.ID || len(crec.Events) != 0 {
				t.Fatalf("contractor's record %+v", crec)
			}

			// Who may.
			must[store.SubjectRecord](t)(f.s.SubjectAccess(ctx, a.as(subject), subject.ID)) // themself
			for _, m := range []keycab.Member{a.staff, a.manager, a.auditor, a.contractor} {
				if _, err := f.s.SubjectAccess(ctx, a.as(m), a.admin.ID); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
					t.Errorf("%s had another member's data: %v", m.Role, err)
				}
			}
			if _, err := f.s.SubjectAccess(ctx, a.kiosk(), subject.ID); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
				t.Errorf("a kiosk had a member's data: %v", err)
			}
			if _, err := f.s.SubjectAccess(ctx, b.as(b.owner), subject.ID); keycab.ErrorCode(err) != keycab.ENOTFOUND {
				t.Errorf("another organisation's owner had the member's data: %v", err)
			}
			// The texts of their own custody changes, also when they ask
			// themself (a contractor sees no texts in history).
			mustPushTake(t, f.s, a, a.contractor, "Ray Recipient", "gate code on file", true)
			var texts []string
			for _, ev := range must[store.SubjectRecord](t)(f.s.SubjectAccess(ctx, a.as(a.contractor), a.contractor.ID)).Events {
				texts = append(texts, ev.Recipient+"/"+ev.Notes)
			}
			if !slices.Contains(texts, "Ray Recipient/gate code on file") {
				t.Fatalf("their own texts not in their record: %q", texts)
			}
			// Every request is in the admin log.
			n := 0
			for _, l := range must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, own, 1000)) {
				if l.Action == "member.subject_access" {
					n++
				}
			}
			if n != 4 {
				t.Fatalf("%d subject access requests logged, want 4", n)
			}
		})
	}
}

// subjectContractCases: a subject access request reaches only the
// principal's organisation.
func subjectContractCases() []contractCase {
	ctx := context.Background()
	return []contractCase{
		{"id swap: subject access", func(t *testing.T, f *fixture) {
			sameMiss(t, "member", func(id string) error { _, err := f.s.SubjectAccess(ctx, f.a.as(f.a.owner), id); return err }, f.b.staff.ID)
			sameMiss(t, "member", func(id string) error { _, err := f.s.SubjectAccess(ctx, f.a.as(f.a.admin), id); return err }, f.b.owner.ID)
			for _, l := range must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, f.b.as(f.b.owner), 1000)) {
				if l.Action == "member.subject_access" {
					t.Fatalf("B's admin log records A's request: %+v", l)
				}
			}
		}},
		{"tenant: a subject access record holds only its organisation's rows", func(t *testing.T, f *fixture) {
			a, b := f.a, f.b
			now := time.Now()
			// The same badge code, address and mail in both organisations.
			must[keycab.Badge](t)(f.s.AddBadge(ctx, a.as(a.owner), a.staff.ID, keycab.BadgeRFID, "0055667788"))
			must[keycab.Badge](t)(f.s.AddBadge(ctx, b.as(b.owner), b.staff.ID, keycab.BadgeRFID, "0055667788"))
			MustNoErr(t, f.s.RecordEvents(ctx, a.kiosk(), []store.Event{{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: a.staff.ID, KeySetID: a.ks1.ID, At: now}}))
			MustNoErr(t, f.s.RecordEvents(ctx, b.kiosk(), []store.Event{{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: b.staff.ID, KeySetID: b.ks1.ID, At: now}}))
			for _, org := range []string{a.org.ID, b.org.ID} {
				must[store.Delivery](t)(f.s.Accounts().RecordDelivery(ctx, store.Delivery{OrgID: org, Kind: "notice", To: a.staff.Email, Subject: "to " + org, Status: "dry-run"}))
			}
			rec := must[store.SubjectRecord](t)(f.s.SubjectAccess(ctx, a.as(a.staff), a.staff.ID))
			if rec.OrgID != a.org.ID || len(rec.Badges) != 1 || len(rec.Events) != 1 || len(rec.Holding) != 1 || len(rec.Deliveries) != 1 {
				t.Fatalf("A's record: org %s, %d badges, %d events, %d holding, %d deliveries", rec.OrgID, len(rec.Badges), len(rec.Events), len(rec.Holding), len(rec.Deliveries))
			}
			for _, d := range rec.Deliveries {
				if d.OrgID != a.org.ID {
					t.Fatalf("A's record holds B's mail %+v", d)
				}
			}
			for _, e := range rec.Events {
				if e.KioskID == b.kiosk1.ID || e.KeySetID == b.ks1.ID {
					t.Fatalf("A's record holds B's event %+v", e)
				}
			}
			if s := fmt.Sprintf("%+v", rec); strings.Contains(s, b.org.ID) || strings.Contains(s, b.staff.ID) || strings.Contains(s, b.ks1.ID) {
				t.Fatalf("A's record names B's rows: %s", s)
			}
		}},
	}
}
