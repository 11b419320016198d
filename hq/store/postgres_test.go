package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/hq/store/pgtest"
)

// pgFixture is a PostgreSQL fixture with two organisations and a raw
// connection as the application role with no tenant set.
func pgFixture(t *testing.T) (*fixture, pgtest.Database) {
	t.Helper()
	d := MustPG(t).MustDatabase(t)
	MustMigrate(t, d.OwnerDSN)
	f := &fixture{s: MustOpen(t, d.AppDSN), appDSN: d.AppDSN, owner: d.OwnerDSN}
	f.a = MustTenant(t, f.s, "A")
	f.b = MustTenant(t, f.s, "B")
	MustNoErr(t, f.s.RecordEvents(context.Background(), f.a.kiosk(), []store.Event{{LogIndex: 0, Kind: keycab.EventBoot, At: time.Now()}}))
	MustNoErr(t, f.s.RecordEvents(context.Background(), f.b.kiosk(), []store.Event{{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: f.b.staff.ID, KeySetID: f.b.ks1.ID, At: time.Now()}}))
	mustSyncRows(t, f)
	return f, d
}

// mustSyncRows gives org A an enrolled kiosk whose log holds a leaf and a
// piece of fork evidence, so the sync tables (migration 0003) have rows
// for the policy and append-only tests.
func mustSyncRows(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	// A custody change at HQ: an entry of org A's HQ log (migration 0022).
	_, err := f.s.RecordCustody(ctx, f.a.as(f.a.owner), store.CustodyRequest{RequestID: "fixture-take-000001", KeySetID: f.a.ks1.ID,
		Action: store.CustodyTake, Reason: "viewing", Recipient: "Mr Fixture"})
	MustNoErr(t, err)
	tok, _, err := f.s.CreateEnrolToken(ctx, f.a.as(f.a.owner), f.a.cab1.ID, 0)
	MustNoErr(t, err)
	k, _, err := f.s.Enrol(ctx, tok, make([]byte, 32), "kiosk", newLog)
	MustNoErr(t, err)
	MustNoErr(t, f.s.KioskLogs().UpdateKioskLog(ctx, store.KioskScope(f.a.org.ID, k.ID), func(ctx context.Context, l *store.LogTx) error {
		if err := l.Append(ctx, 0, [][]byte{[]byte("leaf")}, [][]byte{make([]byte, 32)}); err != nil {
			return err
		}
		if err := l.SetHead(ctx, 1, []byte("cp"), []byte("cosigned")); err != nil {
			return err
		}
		return l.Quarantine(ctx, "test evidence", 0, []byte("theirs"), []byte("ours"))
	}))
}

// TestPostgresNoTenant: as the service role, with no tenant set, no tenant
// table shows a row and nothing can be inserted.
func TestPostgresNoTenant(t *testing.T) {
	f, d := pgFixture(t)
	ctx := context.Background()
	db := openRaw(t, d.AppDSN, "")
	for _, table := range store.TenantTables() {
		var n int
		MustNoErr(t, db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n))
		if n != 0 {
			t.Errorf("%s: %d rows visible with no tenant set", table, n)
		}
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO sites (org_id, id, name) VALUES ($1, 'site_x', 'x')", f.a.org.ID); err == nil {
		t.Fatal("insert with no tenant set succeeded")
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO orgs (id, name, cap_key_sets, cap_sites, cap_cabinets, cap_members, badge_salt, created_us) VALUES ('org_x', 'x', 1, 1, 1, 1, '', 0)"); err == nil {
		t.Fatal("insert of an org with no tenant set succeeded")
	}
}

// TestPostgresOneTenant: with tenant A set per transaction, B's rows are
// invisible and cannot be changed, deleted or written into; the setting
// does not outlive the transaction on a pooled connection.
func TestPostgresOneTenant(t *testing.T) {
	f, d := pgFixture(t)
	ctx := context.Background()
	db := openRaw(t, d.AppDSN, "")
	tx, err := db.BeginTx(ctx, nil)
	MustNoErr(t, err)
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, "SELECT set_config('keycab.org_id', $1, true)", f.a.org.ID)
	MustNoErr(t, err)
	for _, table := range store.TenantTables() {
		col := "org_id"
		if table == "orgs" {
			col = "id"
		}
		var n int
		MustNoErr(t, tx.QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE "+col+" <> $1", f.a.org.ID).Scan(&n))
		if n != 0 {
			t.Errorf("%s: %d rows of other tenants visible", table, n)
		}
	}
	var mine int
	MustNoErr(t, tx.QueryRowContext(ctx, "SELECT count(*) FROM sites").Scan(&mine))
	if mine != 2 {
		t.Fatalf("tenant A sees %d sites, want 2", mine)
	}
	for _, q := range []string{
		"UPDATE sites SET name = 'pwned' WHERE id = $1",
		"DELETE FROM key_sets WHERE id = $1",
		"UPDATE members SET role = 'owner' WHERE id = $1",
		"DELETE FROM custody WHERE key_set_id = $1",
	} {
		id := map[string]string{"sites": f.b.site1.ID, "key_sets": f.b.ks2.ID, "members": f.b.staff.ID, "custody": f.b.ks1.ID}[strings.Fields(q)[map[bool]int{true: 1, false: 2}[strings.HasPrefix(q, "UPDATE")]]]
		res, err := tx.ExecContext(ctx, q, id)
		MustNoErr(t, err)
		if n, _ := res.RowsAffected(); n != 0 {
			t.Errorf("%s on B's row changed %d rows", q, n)
		}
	}
	// Writing a row into B, or moving A's row to B, fails the policy.
	for _, q := range []string{
		"INSERT INTO sites (org_id, id, name) VALUES ('" + f.b.org.ID + "', 'site_x', 'x')",
		"UPDATE sites SET org_id = '" + f.b.org.ID + "' WHERE id = '" + f.a.site2.ID + "'",
	} {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT p"); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "row-level security") {
			t.Errorf("%s: %v, want a row-level security violation", q, err)
		}
		tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT p")
	}
	// A's row pointing at B's parent fails the composite foreign key.
	tx.ExecContext(ctx, "SAVEPOINT p")
	if _, err := tx.ExecContext(ctx, "INSERT INTO cabinets (org_id, id, site_id, name, kind) VALUES ($1, 'cab_x', $2, 'x', 'slotted')", f.a.org.ID, f.b.site1.ID); err == nil || !strings.Contains(err.Error(), "foreign key") {
		t.Errorf("cabinet in B's site: %v, want a foreign key violation", err)
	}
	tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT p")
	MustNoErr(t, tx.Commit())
	// The tenant was local to that transaction: the same connection now
	// sees nothing.
	var n int
	MustNoErr(t, db.QueryRowContext(ctx, "SELECT count(*) FROM sites").Scan(&n))
	if n != 0 {
		t.Fatalf("%d sites visible after the transaction ended", n)
	}
}

// TestPostgresAppendOnly: the service role cannot UPDATE, DELETE or
// TRUNCATE the admin log or the events; the owner is stopped by triggers.
func TestPostgresAppendOnly(t *testing.T) {
	f, d := pgFixture(t)
	ctx := context.Background()
	for _, dsn := range []string{d.AppDSN, d.OwnerDSN} {
		db := openRaw(t, dsn, f.a.org.ID)
		for _, table := range store.AppendOnlyTables() {
			for _, q := range []string{"UPDATE " + table + " SET org_id = org_id", "DELETE FROM " + table, "TRUNCATE " + table} {
				_, err := db.ExecContext(ctx, q)
				if err == nil || !(strings.Contains(err.Error(), "permission denied") || strings.Contains(err.Error(), "append-only")) {
					t.Errorf("%s as %s: %v, want refused", q, dsn[:strings.Index(dsn, "@")], err)
				}
			}
			var n int
			MustNoErr(t, db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n))
			if n == 0 {
				t.Errorf("%s is empty", table)
			}
		}
	}
}

// TestPostgresRoles: the service role owns nothing, is no superuser and
// cannot bypass row-level security; every tenant table has row-level
// security enabled and forced; the store refuses to run as the owner.
func TestPostgresRoles(t *testing.T) {
	_, d := pgFixture(t)
	ctx := context.Background()
	db := openRaw(t, d.SuperDSN, "")
	var super, bypass bool
	var owned int
	MustNoErr(t, db.QueryRowContext(ctx, `SELECT rolsuper, rolbypassrls,
		(SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid) FROM pg_roles r WHERE rolname = $1`, pgtest.AppRole).Scan(&super, &bypass, &owned))
	if super || bypass || owned != 0 {
		t.Fatalf("app role: superuser=%t bypassrls=%t owns %d relations", super, bypass, owned)
	}
	for _, table := range store.TenantTables() {
		var rls, force bool
		var policies int
		MustNoErr(t, db.QueryRowContext(ctx, `SELECT relrowsecurity, relforcerowsecurity,
			(SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) FROM pg_class c WHERE relname = $1`, table).Scan(&rls, &force, &policies))
		if !rls || !force || policies == 0 {
			t.Errorf("%s: rls=%t force=%t policies=%d", table, rls, force, policies)
		}
	}
	for _, table := range store.AppendOnlyTables() {
		for _, priv := range []string{"UPDATE", "DELETE", "TRUNCATE"} {
			var has bool
			MustNoErr(t, db.QueryRowContext(ctx, "SELECT has_table_privilege($1, $2, $3)", pgtest.AppRole, table, priv).Scan(&has))
			if has {
				t.Errorf("app role has %s on %s", priv, table)
			}
		}
	}
	if _, err := store.Open(ctx, d.OwnerDSN, store.Options{}); err == nil || !strings.Contains(err.Error(), "own tables") {
		t.Fatalf("store opened as the owner: %v", err)
	}
	if _, err := store.Open(ctx, d.SuperDSN, store.Options{}); err == nil {
		t.Fatal("store opened as a superuser")
	}
}

// TestPostgresIngestChecks: the statement triggers that stand for the
// foreign keys of events and kiosk_leaves (migration 0008) refuse what the
// keys refused, as the service role: events naming a kiosk that does not
// exist, in a statement with valid rows too; leaves of a log that does not
// exist; deleting or renaming a kiosk that has events, or a log that has
// leaves. And an insert locks its kiosk as the key did: a delete waits for
// the inserting transaction.
func TestPostgresIngestChecks(t *testing.T) {
	f, d := pgFixture(t)
	ctx := context.Background()
	db := openRaw(t, d.AppDSN, f.a.org.ID)
	var logKiosk string
	MustNoErr(t, db.QueryRowContext(ctx, "SELECT kiosk_id FROM kiosk_logs").Scan(&logKiosk))
	ev := func(kiosk string, idx int) string {
		return fmt.Sprintf("('%s', '%s', %d, 'door.closed', '%s', 0, 0)", f.a.org.ID, kiosk, idx, f.a.cab1.ID)
	}
	const insEvents = "INSERT INTO events (org_id, kiosk_id, log_index, kind, cabinet_id, at_us, received_us) VALUES "
	refused := func(what, q, want string) {
		t.Helper()
		_, err := db.ExecContext(ctx, q)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23503" || !strings.HasPrefix(pe.Message, want) {
			t.Errorf("%s: %v, want a foreign key violation (%s)", what, err, want)
		}
	}
	refused("event of a kiosk that does not exist", insEvents+ev("kiosk_nonesuch", 0), "insert or update")
	refused("events, one of a kiosk that does not exist", insEvents+ev(f.a.kiosk1.ID, 100)+", "+ev("kiosk_nonesuch", 0), "insert or update")
	refused("event of org B's kiosk", insEvents+fmt.Sprintf("('%s', '%s', 7, 'door.closed', '%s', 0, 0)", f.a.org.ID, f.b.kiosk1.ID, f.a.cab1.ID), "insert or update")
	refused("leaf of a log that does not exist", fmt.Sprintf("INSERT INTO kiosk_leaves (org_id, kiosk_id, idx, leaf, hashes) VALUES ('%s', '%s', 5, 'x', 'y')", f.a.org.ID, f.a.kiosk1.ID), "insert or update")
	refused("delete a kiosk with events", fmt.Sprintf("DELETE FROM kiosks WHERE id = '%s'", f.a.kiosk1.ID), "update or delete")
	refused("rename a kiosk with events", fmt.Sprintf("UPDATE kiosks SET id = 'kiosk_renamed' WHERE id = '%s'", f.a.kiosk1.ID), "update or delete")
	refused("delete a log with leaves", fmt.Sprintf("DELETE FROM kiosk_logs WHERE kiosk_id = '%s'", logKiosk), "update or delete")
	refused("rename a log with leaves", fmt.Sprintf("UPDATE kiosk_logs SET kiosk_id = 'kiosk_renamed' WHERE kiosk_id = '%s'", logKiosk), "update or delete")
	var n int
	MustNoErr(t, db.QueryRowContext(ctx, "SELECT count(*) FROM events WHERE log_index = 100").Scan(&n))
	if n != 0 {
		t.Errorf("a refused statement stored %d events", n)
	}
	// A session's temporary table cannot stand in for the parents.
	if _, err := db.ExecContext(ctx, "CREATE TEMP TABLE kiosks (org_id TEXT, id TEXT)"); err == nil {
		if _, err := db.ExecContext(ctx, "INSERT INTO pg_temp.kiosks VALUES ($1, 'kiosk_nonesuch')", f.a.org.ID); err != nil {
			t.Fatal(err)
		}
		refused("event of a kiosk only a temporary table names", insEvents+ev("kiosk_nonesuch", 0), "insert or update")
		if _, err := db.ExecContext(ctx, "DROP TABLE pg_temp.kiosks"); err != nil {
			t.Fatal(err)
		}
	}
	// Deletes are checked at READ COMMITTED only; others are refused.
	rr, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	MustNoErr(t, err)
	_, err = rr.ExecContext(ctx, "DELETE FROM kiosks WHERE id = $1", f.a.kiosk1.ID)
	rr.Rollback()
	if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "40001" {
		t.Errorf("delete a kiosk at REPEATABLE READ: %v, want refused (40001)", err)
	}
	// Other updates of the parents pass.
	if _, err := db.ExecContext(ctx, "UPDATE kiosks SET last_seen_us = 1 WHERE id = $1", f.a.kiosk1.ID); err != nil {
		t.Errorf("update a kiosk's last contact: %v", err)
	}

	// An uncommitted insert holds its kiosk: a delete waits for it (here,
	// until its lock timeout).
	tx, err := db.BeginTx(ctx, nil)
	MustNoErr(t, err)
	defer tx.Rollback()
	fresh, err := f.s.CreateKiosk(ctx, f.a.as(f.a.owner), store.Kiosk{CabinetID: f.a.cab1.ID, Name: "fresh"})
	MustNoErr(t, err)
	_, err = tx.ExecContext(ctx, insEvents+ev(fresh.ID, 0))
	MustNoErr(t, err)
	other := openRaw(t, d.AppDSN, f.a.org.ID)
	_, err = other.ExecContext(ctx, "SET lock_timeout = '200ms'")
	MustNoErr(t, err)
	_, err = other.ExecContext(ctx, "DELETE FROM kiosks WHERE id = $1", fresh.ID)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "55P03" {
		t.Errorf("delete a kiosk an open transaction inserts events for: %v, want a lock timeout", err)
	}
}

// orgIDTables lists every table of the schema with an org_id column, from
// the catalog, so a table added later is checked without being named.
func orgIDTables(t *testing.T, db *sql.Conn) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT c.table_name FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND c.column_name = 'org_id' AND t.table_type = 'BASE TABLE'
		ORDER BY c.table_name`)
	MustNoErr(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		MustNoErr(t, rows.Scan(&n))
		out = append(out, n)
	}
	MustNoErr(t, rows.Err())
	if len(out) < len(store.TenantTables()) {
		t.Fatalf("only %d tables with org_id: %v", len(out), out)
	}
	return out
}

// TestPostgresEveryOrgIDTableUnderRLS: every table with an org_id column
// has row-level security enabled and forced, and a policy.
func TestPostgresEveryOrgIDTableUnderRLS(t *testing.T) {
	_, d := pgFixture(t)
	ctx := context.Background()
	db := openRaw(t, d.SuperDSN, "")
	for _, table := range orgIDTables(t, db) {
		var rls, force bool
		var policies int
		MustNoErr(t, db.QueryRowContext(ctx, `SELECT relrowsecurity, relforcerowsecurity,
			(SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) FROM pg_class c
			WHERE c.oid = to_regclass(quote_ident(current_schema()) || '.' || quote_ident($1))`, table).Scan(&rls, &force, &policies))
		if !rls || !force || policies == 0 {
			t.Errorf("%s has org_id but rls=%t force=%t policies=%d", table, rls, force, policies)
		}
	}
}

// mustGlobalRows gives org B a row in each of the tables that sign-in,
// invitations and mail use (an account linked to a member, a session, an
// MFA step, an invitation, a delivery, a queued retry), and the account's
// own rows that belong to no organisation (a reset link, its delivery and
// retry).
func mustGlobalRows(t *testing.T, f *fixture) (store.Session, store.AuthToken) {
	t.Helper()
	ctx := context.Background()
	acct := must[store.Account](t)(f.s.Accounts().CreateAccount(ctx, store.Account{Email: "staff@b.test"}))
	MustNoErr(t, f.s.Accounts().LinkMember(ctx, acct.ID, f.b.org.ID, f.b.staff.ID))
	ss := must[store.Session](t)(f.s.Accounts().CreateSession(ctx, store.Session{AccountID: acct.ID, OrgID: f.b.org.ID, MemberID: f.b.staff.ID,
		AccessHash: []byte("b access"), RefreshHash: []byte("b refresh"), ExpiresAt: time.Now().Add(time.Hour)}))
	must[store.AuthToken](t)(f.s.Accounts().CreateAuthToken(ctx, store.AuthToken{Hash: []byte("b mfa"), Purpose: store.PurposeMFA, AccountID: acct.ID,
		OrgID: f.b.org.ID, MemberID: f.b.staff.ID, ExpiresAt: time.Now().Add(time.Hour)}))
	must[store.AuthToken](t)(f.s.Accounts().CreateAuthToken(ctx, store.AuthToken{Hash: []byte("reset"), Purpose: store.PurposeReset, AccountID: acct.ID,
		Email: acct.Email, ExpiresAt: time.Now().Add(time.Hour)}))
	inv := must[store.AuthToken](t)(f.s.Accounts().CreateInvite(ctx, f.b.as(f.b.owner), store.AuthToken{Hash: []byte("b invite"), Email: "new@b.test",
		Role: keycab.RoleStaff, ExpiresAt: time.Now().Add(time.Hour)}))
	for _, org := range []string{f.b.org.ID, ""} {
		must[store.Delivery](t)(f.s.Accounts().RecordDelivery(ctx, store.Delivery{Kind: "invite", OrgID: org, To: "new@b.test", Subject: "s", Status: "failed"}))
		must[string](t)(f.s.Outbox().QueueMailRetry(ctx, store.NoticeMail{OrgID: org, Kind: "invite", To: "new@b.test", Subject: "s", Body: "link"}, time.Now()))
	}
	return ss, inv
}

// TestPostgresGlobalTablesAttack: as the service role, with no tenant set
// and with tenant A set, no table with org_id shows, changes or deletes a
// row of org B (nor, with a tenant set, any other organisation's or an
// account's own), and no token hash is readable with no tenant set. B's
// rows are all there afterwards.
func TestPostgresGlobalTablesAttack(t *testing.T) {
	f, d := pgFixture(t)
	ctx := context.Background()
	ss, inv := mustGlobalRows(t, f)
	tables := orgIDTables(t, openRaw(t, d.SuperDSN, ""))
	for _, tenant := range []string{"", f.a.org.ID} {
		db := openRaw(t, d.AppDSN, tenant)
		for _, table := range tables {
			var n int
			other := "org_id = $1"
			if tenant != "" {
				other = "(org_id = $1 OR org_id <> $2)"
			}
			args := []any{f.b.org.ID}
			if tenant != "" {
				args = append(args, tenant)
			}
			MustNoErr(t, db.QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE "+other, args...).Scan(&n))
			if n != 0 {
				t.Errorf("tenant %q: %s shows %d rows of other organisations", tenant, table, n)
			}
			for _, q := range []string{"UPDATE " + table + " SET org_id = org_id WHERE " + other, "DELETE FROM " + table + " WHERE " + other} {
				res, err := db.ExecContext(ctx, q, args...)
				if err != nil {
					if !strings.Contains(err.Error(), "permission denied") && !strings.Contains(err.Error(), "append-only") {
						t.Errorf("tenant %q: %s: %v", tenant, q, err)
					}
					continue
				}
				if n, _ := res.RowsAffected(); n != 0 {
					t.Errorf("tenant %q: %s changed %d rows", tenant, q, n)
				}
			}
		}
		var hashes int
		MustNoErr(t, db.QueryRowContext(ctx, "SELECT count(*) FROM auth_tokens").Scan(&hashes))
		if hashes != 0 {
			t.Errorf("tenant %q: %d token hashes readable", tenant, hashes)
		}
	}
	// The owner passes the policy only inside the definer functions, not
	// in its own sessions.
	var owned int
	MustNoErr(t, openRaw(t, d.OwnerDSN, "").QueryRowContext(ctx, "SELECT (SELECT count(*) FROM sessions) + (SELECT count(*) FROM auth_tokens)").Scan(&owned))
	if owned != 0 {
		t.Errorf("the owner sees %d session and token rows with no tenant set", owned)
	}
	// B's rows are untouched and still work through the store.
	must[store.Session](t)(f.s.Accounts().SessionByAccess(ctx, ss.AccessHash))
	if is := must[[]store.AuthToken](t)(f.s.Accounts().ListInvites(ctx, f.b.as(f.b.owner))); len(is) != 1 || is[0].ID != inv.ID {
		t.Fatalf("B's invitations: %v", is)
	}
	must[store.AuthToken](t)(f.s.Accounts().PeekAuthToken(ctx, store.PurposeMFA, []byte("b mfa")))
	if ms := must[[]store.Membership](t)(f.s.Accounts().Memberships(ctx, ss.AccountID)); len(ms) != 1 || ms[0].OrgID != f.b.org.ID {
		t.Fatalf("memberships %v", ms)
	}
}
