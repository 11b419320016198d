package store_test

import (
	"context"
	"strings"
	"testing"

	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/hq/store/pgtest"
)

// TestMigrateTwice: a second Migrate changes nothing, on both engines.
func TestMigrateTwice(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			app, owner := e.New(t)
			s := MustOpen(t, app)
			tn := MustTenant(t, s, "A")
			schema := func() string {
				db := openRaw(t, owner, "")
				q := "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_schema ORDER BY name"
				if s.Engine() == store.Postgres {
					q = `SELECT 'table ' || tablename FROM pg_tables WHERE schemaname = 'public'
						UNION ALL SELECT 'policy ' || tablename || ' ' || policyname FROM pg_policies
						UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal
						UNION ALL SELECT 'migration ' || version FROM schema_migrations ORDER BY 1`
				}
				rows, err := db.QueryContext(context.Background(), q)
				MustNoErr(t, err)
				defer rows.Close()
				var b strings.Builder
				for rows.Next() {
					var l string
					MustNoErr(t, rows.Scan(&l))
					b.WriteString(l + "\n")
				}
				return b.String()
			}
			before := schema()
			MustMigrate(t, owner)
			if after := schema(); after != before {
				t.Fatalf("second migration changed the schema:\n%s\nthen:\n%s", before, after)
			}
			if _, err := s.GetOrg(context.Background(), tn.as(tn.owner)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestMigrateNeeded: Open refuses an empty database, and Migrate refuses a
// missing application role on PostgreSQL.
func TestMigrateNeeded(t *testing.T) {
	ctx := context.Background()
	if _, err := store.Open(ctx, "sqlite:"+t.TempDir()+"/empty.db", store.Options{}); err == nil {
		t.Fatal("opened an unmigrated database")
	}
	d := MustPG(t).MustDatabase(t)
	if err := store.Migrate(ctx, d.OwnerDSN, store.MigrateOptions{AppRole: "nobody_here"}); err == nil {
		t.Fatal("migrated for a missing application role")
	}
	MustNoErr(t, store.Migrate(ctx, d.OwnerDSN, store.MigrateOptions{AppRole: pgtest.AppRole}))
	if _, err := store.Open(ctx, d.AppDSN, store.Options{}); err != nil {
		t.Fatal(err)
	}
}

// TestStatementChecker: the checker every test store runs under (see
// MustOpen) catches statements without the tenant condition. The contract
// suite runs every store statement on SQLite and PostgreSQL through it.
func TestStatementChecker(t *testing.T) {
	for q, bad := range map[string]bool{
		"SELECT id FROM sites":                                    true,
		"SELECT id FROM sites WHERE id = $1":                      true,
		"UPDATE members SET role = $1 WHERE id = $2":              true,
		"DELETE FROM key_sets WHERE id = $1":                      true,
		"INSERT INTO badges (hash, member_id) VALUES ($1, $2)":    true,
		"SELECT name FROM orgs":                                   true,
		"SELECT id FROM sites WHERE org_id = $1 AND id = $2":      false,
		"INSERT INTO badges (org_id, hash) VALUES ($1, $2)":       false,
		"SELECT name FROM orgs WHERE id = $1":                     false,
		"SELECT set_config('keycab.org_id', $1, true)":            false,
		"SELECT coalesce(max(version), 0) FROM schema_migrations": false,
	} {
		if got := checkScoped(q) != ""; got != bad {
			t.Errorf("checkScoped(%q) flags=%t, want %t", q, got, bad)
		}
	}
}
