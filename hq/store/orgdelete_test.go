package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// testClock is a settable clock for a store (Options.Now).
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// orgRows counts, as the schema owner, the rows of orgID in every table
// with an org_id column (and orgs itself), by table.
func orgRows(t *testing.T, ownerDSN, orgID string) map[string]int {
	t.Helper()
	ctx := context.Background()
	c := openRaw(t, ownerDSN, orgID)
	q := `SELECT m.name FROM sqlite_schema m, pragma_table_info(m.name) c WHERE m.type = 'table' AND c.name = 'org_id'`
	arg := "?"
	if !strings.HasPrefix(ownerDSN, "sqlite:") {
		q = `SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() AND column_name = 'org_id'`
		arg = "$1"
	}
	rows, err := c.QueryContext(ctx, q)
	MustNoErr(t, err)
	var tables []string
	for rows.Next() {
		var name string
		MustNoErr(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	MustNoErr(t, rows.Err())
	rows.Close()
	if len(tables) < 30 {
		t.Fatalf("only %d tables with an org_id column: %v", len(tables), tables)
	}
	out := map[string]int{}
	count := func(table, col string) {
		var n int
		MustNoErr(t, c.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM %q WHERE %s = %s`, table, col, arg), orgID).Scan(&n))
		if n > 0 {
			out[table] = n
		}
	}
	for _, table := range tables {
		count(table, "org_id")
	}
	count("orgs", "id")
	return out
}

// TestOrgDeletion: only an owner schedules an organisation's deletion,
// with its name typed; meanwhile its kiosks and other members are
// refused and its owners may read and restore, nothing else; after the
// grace period the purge leaves no row of it in any table (the
// append-only logs included), and the other organisation is untouched.
func TestOrgDeletion(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			app, owner := e.New(t)
			clock := &testClock{t: time.Now()}
			s, err := store.Open(ctx, app, store.Options{NotesKey: testNotesKey(), Now: clock.now, Trace: func(q string) {
				if why := checkScoped(q); why != "" {
					t.Errorf("unscoped statement (%s):\n%s", why, q)
				}
			}})
			MustNoErr(t, err)
			t.Cleanup(func() { s.Close() })
			a, b := MustTenant(t, s, "A"), MustTenant(t, s, "B")
			for _, tn := range []tenant{a, b} {
				// Rows in the logs, sync and session tables too.
				MustNoErr(t, s.RecordEvents(ctx, tn.kiosk(), []store.Event{{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: tn.staff.ID, KeySetID: tn.ks1.ID, At: clock.now()}}))
				tok, _, err := s.CreateEnrolToken(ctx, tn.as(tn.owner), tn.cab1.ID, 0)
				MustNoErr(t, err)
				k, _, err := s.Enrol(ctx, tok, make([]byte, 32), "synced", newLog)
				MustNoErr(t, err)
				MustNoErr(t, s.KioskLogs().UpdateKioskLog(ctx, store.KioskScope(tn.org.ID, k.ID), func(ctx context.Context, l *store.LogTx) error {
					if err := l.Append(ctx, 0, [][]byte{[]byte("leaf")}, [][]byte{make([]byte, 32)}); err != nil {
						return err
					}
					return l.SetHead(ctx, 1, []byte("cp"), []byte("cosigned"))
				}))
				MustNoErr(t, s.KioskLogs().RecordHeartbeat(ctx, tn.kiosk(), store.Heartbeat{Door: "closed", LogSize: 1}))
				MustNoErr(t, s.KioskLogs().UseNonce(ctx, tn.kiosk(), "n1", clock.now().Add(time.Minute)))
				_, err = s.Accounts().CreateSession(ctx, store.Session{OrgID: tn.org.ID, MemberID: tn.owner.ID, AccountID: "acct_" + tn.org.ID,
					AccessHash: []byte("a" + tn.org.ID), RefreshHash: []byte("r" + tn.org.ID), ExpiresAt: clock.now().Add(time.Hour)})
				if err != nil && keycab.ErrorCode(err) != keycab.ENOTFOUND {
					t.Fatal(err)
				}
				_, _, err = s.CreateEnrolToken(ctx, tn.as(tn.owner), tn.cab1.ID, 0)
				MustNoErr(t, err)
			}
			before := orgRows(t, owner, a.org.ID)
			for _, table := range []string{"orgs", "members", "events", "admin_log", "kiosk_leaves", "kiosks", "enrol_tokens"} {
				if before[table] == 0 {
					t.Fatalf("fixture has no %s row of A: %v", table, before)
				}
			}

			// Who may, and the typed name.
			for _, m := range []keycab.Member{a.admin, a.manager, a.auditor, a.staff} {
				if _, err := s.ScheduleOrgDeletion(ctx, a.as(m), a.org.Name, 0); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
					t.Fatalf("%s scheduled the deletion: %v", m.Role, err)
				}
			}
			if _, err := s.ScheduleOrgDeletion(ctx, a.kiosk(), a.org.Name, 0); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
				t.Fatalf("a kiosk scheduled the deletion: %v", err)
			}
			if _, err := s.ScheduleOrgDeletion(ctx, a.as(a.owner), "org a", 0); keycab.ErrorCode(err) != keycab.EINVALID {
				t.Fatalf("a wrong name confirmed the deletion: %v", err)
			}
			if err := s.RestoreOrg(ctx, a.as(a.owner)); keycab.ErrorCode(err) != keycab.ECONFLICT {
				t.Fatalf("restored an organisation not being deleted: %v", err)
			}
			d, err := s.ScheduleOrgDeletion(ctx, a.as(a.owner), " "+a.org.Name+" ", 0)
			MustNoErr(t, err)
			if got := d.DeleteAfter.Sub(d.RequestedAt); got != store.DefaultDeletionGrace || d.RequestedBy != a.owner.ID {
				t.Fatalf("deletion %+v", d)
			}

			// Meanwhile: kiosks and other members refused, owners read only.
			if _, err := s.KioskLogs().KioskLogState(ctx, a.kiosk()); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
				t.Fatalf("a kiosk of a deleted organisation: %v", err)
			}
			if err := s.KioskLogs().RecordHeartbeat(ctx, a.kiosk(), store.Heartbeat{LogSize: 1}); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
				t.Fatalf("a kiosk of a deleted organisation sent a heartbeat: %v", err)
			}
			for _, m := range []keycab.Member{a.admin, a.auditor, a.staff} {
				if _, err := s.ListMembers(ctx, a.as(m)); keycab.ErrorCode(err) != keycab.EFORBIDDEN || !strings.Contains(err.Error(), "scheduled for deletion") {
					t.Fatalf("%s of a deleted organisation: %v", m.Role, err)
				}
			}
			if _, err := s.ListMembers(ctx, a.as(a.owner)); err != nil {
				t.Fatalf("the owner could not read (export) meanwhile: %v", err)
			}
			if _, err := s.CreateSite(ctx, a.as(a.owner), store.Site{Site: keycab.Site{Name: "more"}}); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
				t.Fatalf("the owner changed a deleted organisation: %v", err)
			}
			if _, err := s.ListMembers(ctx, b.as(b.staff)); err != nil {
				t.Fatalf("B is refused while A is deleted: %v", err)
			}
			// Not yet due: the purge leaves it.
			clock.add(store.DefaultDeletionGrace - time.Minute)
			if ids, err := s.PurgeDeletedOrgs(ctx); err != nil || len(ids) != 0 {
				t.Fatalf("purged before the grace ended: %v %v", ids, err)
			}
			if err := s.RestoreOrg(ctx, a.as(a.admin)); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
				t.Fatalf("an admin restored it: %v", err)
			}
			MustNoErr(t, s.RestoreOrg(ctx, a.as(a.owner)))
			if _, err := s.CreateSite(ctx, a.as(a.admin), store.Site{Site: keycab.Site{Name: "more"}}); err != nil {
				t.Fatalf("restored organisation: %v", err)
			}
			log := must[[]store.AdminAction](t)(s.ListAdminLog(ctx, a.as(a.owner), 0))
			var seen []string
			for _, l := range log {
				if strings.HasPrefix(l.Action, "org.delete") || l.Action == "org.restore" {
					seen = append(seen, l.Action)
					if !strings.Contains(l.Detail, `"before"`) || !strings.Contains(l.Detail, "delete_after") {
						t.Errorf("%s logged %s", l.Action, l.Detail)
					}
				}
			}
			if strings.Join(seen, " ") != "org.restore org.delete" {
				t.Fatalf("admin log %v", seen)
			}

			// Scheduled again, and past due: no restore, then no row left.
			_, err = s.ScheduleOrgDeletion(ctx, a.as(a.owner), a.org.Name, time.Hour)
			MustNoErr(t, err)
			bBefore := orgRows(t, owner, b.org.ID)
			clock.add(time.Hour)
			if err := s.RestoreOrg(ctx, a.as(a.owner)); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
				t.Fatalf("restored after the grace ended: %v", err)
			}
			ids, err := s.PurgeDeletedOrgs(ctx)
			MustNoErr(t, err)
			if len(ids) != 1 || ids[0] != a.org.ID {
				t.Fatalf("purged %v", ids)
			}
			if left := orgRows(t, owner, a.org.ID); len(left) != 0 {
				t.Fatalf("rows of the deleted organisation left: %v", left)
			}
			if _, err := s.ListMembers(ctx, a.as(a.owner)); keycab.ErrorCode(err) != keycab.EUNAUTHORIZED {
				t.Fatalf("the deleted organisation's owner: %v", err)
			}
			if _, err := s.KioskLogs().KioskLogState(ctx, a.kiosk()); keycab.ErrorCode(err) != keycab.EUNAUTHORIZED {
				t.Fatalf("the deleted organisation's kiosk: %v", err)
			}
			if after := orgRows(t, owner, b.org.ID); fmt.Sprint(after) != fmt.Sprint(bBefore) || after["events"] == 0 {
				t.Fatalf("B's rows changed in A's purge: before %v, after %v", bBefore, after)
			}
			// B's logs are still append-only for the application.
			raw := openRaw(t, app, b.org.ID)
			if _, err := raw.ExecContext(ctx, "DELETE FROM events WHERE org_id = '"+b.org.ID+"'"); err == nil {
				t.Fatal("the application deleted a live organisation's events")
			}
			if ids, err := s.PurgeDeletedOrgs(ctx); err != nil || len(ids) != 0 {
				t.Fatalf("a second purge: %v %v", ids, err)
			}
		})
	}
}

// orgDeletionContractCases: an organisation's deletion is its own: another
// organisation neither sees it nor restores it, keeps working meanwhile,
// and keeps every row when the purge comes.
func orgDeletionContractCases() []contractCase {
	ctx := context.Background()
	return []contractCase{
		{"tenant: deleting an organisation", func(t *testing.T, f *fixture) {
			a, b := f.a, f.b
			MustNoErr(t, f.s.RecordEvents(ctx, b.kiosk(), []store.Event{{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: b.staff.ID, KeySetID: b.ks1.ID, At: time.Now()}}))
			if _, err := f.s.ScheduleOrgDeletion(ctx, a.as(a.owner), b.org.Name, 0); keycab.ErrorCode(err) != keycab.EINVALID {
				t.Fatalf("A's owner confirmed with B's name: %v", err)
			}
			must[store.OrgDeletion](t)(f.s.ScheduleOrgDeletion(ctx, a.as(a.owner), a.org.Name, time.Hour))
			if d := must[store.OrgDeletion](t)(f.s.OrgDeletion(ctx, b.as(b.owner))); !d.RequestedAt.IsZero() {
				t.Fatalf("B reads a deletion: %+v", d)
			}
			wantCode(t, f.s.RestoreOrg(ctx, b.as(b.owner)), keycab.ECONFLICT)
			if d := must[store.OrgDeletion](t)(f.s.OrgDeletion(ctx, a.as(a.owner))); d.RequestedAt.IsZero() {
				t.Fatal("B's restore cancelled A's deletion")
			}
			// B goes on meanwhile: its members and its kiosk.
			must[[]keycab.Member](t)(f.s.ListMembers(ctx, b.as(b.staff)))
			must[keycab.Config](t)(f.s.KioskConfig(ctx, b.kiosk()))
			MustNoErr(t, f.s.KioskLogs().RecordHeartbeat(ctx, b.kiosk(), store.Heartbeat{Door: "closed", LogSize: 1}))

			bBefore := orgRows(t, f.owner, b.org.ID)
			clock := time.Now().Add(2 * time.Hour)
			later, err := store.Open(ctx, f.appDSN, store.Options{NotesKey: testNotesKey(), Now: func() time.Time { return clock }})
			MustNoErr(t, err)
			defer later.Close()
			if ids := must[[]string](t)(later.PurgeDeletedOrgs(ctx)); len(ids) != 1 || ids[0] != a.org.ID {
				t.Fatalf("purged %v, want A only", ids)
			}
			if left := orgRows(t, f.owner, a.org.ID); len(left) != 0 {
				t.Fatalf("A's rows left: %v", left)
			}
			if after := orgRows(t, f.owner, b.org.ID); fmt.Sprint(after) != fmt.Sprint(bBefore) {
				t.Fatalf("B's rows changed in A's purge: before %v, after %v", bBefore, after)
			}
			must[[]keycab.Member](t)(f.s.ListMembers(ctx, b.as(b.staff)))
		}},
	}
}
