package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"keycab.dev/keycab/internal/migrate"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// DefaultAppRole is the PostgreSQL role the service connects as.
const DefaultAppRole = "keycab_app"

// MigrateOptions configure Migrate.
type MigrateOptions struct {
	// AppRole is the PostgreSQL role the service connects as; Migrate
	// grants it what the store needs and nothing more. Empty means
	// DefaultAppRole. The role must exist, log in, and be neither a
	// superuser nor able to bypass row-level security.
	AppRole string
	// Logger receives a line per migration applied; nil discards them.
	Logger *slog.Logger
}

// migrationFiles returns the engine's embedded migrations in order (see
// migrate.Files for their names).
func migrationFiles(e Engine) []migrate.Migration {
	ms, err := migrate.Files(migrations, "migrations/"+string(e))
	if err != nil {
		panic(fmt.Sprintf("embedded migrations: %v", err)) // the build embeds them
	}
	return ms
}

// Migrate brings the database named by dsn to this build's schema,
// applying the embedded migrations not yet applied, each in one
// transaction; running it again is a no-op. On PostgreSQL it must connect
// as the role that owns the schema (never the service role), takes an
// advisory lock so that concurrent runs wait for each other, and grants
// the application role SELECT, INSERT, UPDATE and DELETE on the tenant
// tables but only SELECT and INSERT on the append-only ones.
func Migrate(ctx context.Context, dsn string, opts MigrateOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	engine, target, err := parseDSN(dsn)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var db *sql.DB
	switch engine {
	case SQLite:
		db, err = sql.Open("sqlite", sqliteDSN(target, false))
		if err != nil {
			return fmt.Errorf("migrate %s: %w", target, err)
		}
		db.SetMaxOpenConns(1)
	case Postgres:
		cfg, err := pgx.ParseConfig(target)
		if err != nil {
			return fmt.Errorf("migrate: parse postgres dsn: %w", err)
		}
		db = stdlib.OpenDB(*cfg)
	}
	defer db.Close()
	role := opts.AppRole
	if role == "" {
		role = DefaultAppRole
	}
	if err := applyMigrations(ctx, db, engine, role, log); err != nil {
		return fmt.Errorf("migrate %s: %w", redactDSN(dsn), err)
	}
	return nil
}

// applyMigrations applies the engine's pending migrations and, on
// PostgreSQL, grants the application role its rights, all in one
// transaction.
func applyMigrations(ctx context.Context, db *sql.DB, engine Engine, appRole string, log *slog.Logger) error {
	r := migrate.Runner{
		Migrations: migrationFiles(engine),
		Recorder:   migrationTable{},
		Atomic:     true,
		Before: func(ctx context.Context, t *sql.Tx) error {
			if engine == Postgres {
				if err := lockAndCheckRole(ctx, t, appRole); err != nil {
					return err
				}
			}
			if _, err := t.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_us BIGINT NOT NULL)`); err != nil {
				return fmt.Errorf("create schema_migrations: %w", err)
			}
			return nil
		},
		Applied: func(m migrate.Migration) { log.Info("applied migration", "engine", engine, "migration", m.Name) },
	}
	if engine == Postgres {
		r.After = func(ctx context.Context, t *sql.Tx) error { return grant(ctx, t, appRole) }
	}
	return r.Run(ctx, db)
}

// migrationTable records the schema's version in schema_migrations, a row
// per migration applied.
type migrationTable struct{}

func (migrationTable) Version(ctx context.Context, q migrate.Querier) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}

func (migrationTable) Record(ctx context.Context, t *sql.Tx, m migrate.Migration) error {
	_, err := t.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_us) VALUES ($1, $2, $3)",
		m.Version, m.Name, time.Now().UnixMicro())
	return err
}

var _ migrate.Recorder = migrationTable{} // interface guard

// lockAndCheckRole makes t the only migrator on PostgreSQL until it ends,
// and refuses an application role that is missing or could step around
// row-level security.
func lockAndCheckRole(ctx context.Context, t *sql.Tx, appRole string) error {
	// "keycab migrate" as a number: one migrator at a time.
	if _, err := t.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7089904335318528)"); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	var super, bypass, login bool
	err := t.QueryRowContext(ctx, "SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = $1", appRole).Scan(&super, &bypass, &login)
	if err == sql.ErrNoRows {
		return fmt.Errorf("application role %q does not exist: create it (LOGIN NOSUPERUSER NOBYPASSRLS) first", appRole)
	} else if err != nil {
		return fmt.Errorf("check application role: %w", err)
	}
	if super || bypass {
		return fmt.Errorf("application role %q is a superuser or bypasses row-level security", appRole)
	}
	return nil
}

// grant gives the application role what the store needs on PostgreSQL
// and nothing more, after every migration.
func grant(ctx context.Context, t *sql.Tx, appRole string) error {
	r := pgx.Identifier{appRole}.Sanitize()
	for _, q := range []string{
		"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM " + r,
		"GRANT USAGE ON SCHEMA public TO " + r,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON " + strings.Join(mutableTables(), ", ") + " TO " + r,
		"GRANT SELECT, INSERT ON " + strings.Join(appendOnlyTables(), ", ") + " TO " + r,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON " + strings.Join(accountTables(), ", ") + " TO " + r,
		"GRANT SELECT ON schema_migrations TO " + r,
		"GRANT SELECT, INSERT ON org_directory TO " + r,                                    // 0005
		"GRANT SELECT, INSERT, UPDATE ON mail_retry TO " + r,                               // 0006
		"GRANT SELECT, UPDATE ON notes_key TO " + r,                                        // 0016
		"GRANT UPDATE (detail) ON admin_log TO " + r,                                       // 0018: retention's marker only
		"GRANT SELECT, INSERT, DELETE ON kiosk_directory TO " + r,                          // 0021
		"GRANT SELECT, INSERT, DELETE ON sso_domains TO " + r,                              // 0026
		"GRANT EXECUTE ON FUNCTION " + strings.Join(definerFunctions(), ", ") + " TO " + r, // 0009
	} {
		if _, err := t.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("grant: %w", err)
		}
	}
	return nil
}

// definerFunctions are the SECURITY DEFINER functions the application
// role may call: the lookups across organisations of migration 0009, the
// purge of a deleted organisation's logs, and the erasure of an erased
// member's account mail.
func definerFunctions() []string {
	return []string{"keycab_session_by_access(bytea)", "keycab_session_by_refresh(bytea)",
		"keycab_revoke_account_sessions(text, bigint)", "keycab_memberships(text)",
		"keycab_peek_auth_token(bytea, text, bigint)", "keycab_use_auth_token(bytea, text, bigint)",
		"keycab_revoke_auth_tokens(text, text, bigint)", "keycab_org_ids()",
		"keycab_mail_retry_due(bigint, integer)", "keycab_mail_retry_lease(text, bigint, bigint)",
		"keycab_mail_retry_finish(text, text, text, bigint)",
		// 0019: deleting an organisation.
		"keycab_purge_org(text, bigint)",
		// 0020: erasing a member's account.
		"keycab_erase_account_mail(text, text)",
		// 0021: a public log's organisation.
		"keycab_kiosk_org(text)",
		// 0024: organisations with a webhook delivery due.
		"keycab_webhook_due_orgs(bigint)",
		// 0026: the organisation of an SSO email domain.
		"keycab_sso_domain_org(text)"}
}

// The tenant tables: every one carries org_id (orgs: id) and is covered
// by a row-level security policy on PostgreSQL.
func mutableTables() []string {
	return []string{"orgs", "sites", "cabinets", "key_sets", "slots", "qr_tokens",
		"members", "member_sites", "badges", "jobs", "job_key_sets", "reservations",
		"kiosks", "custody", "alarms",
		// 0003: sync.
		"enrol_tokens", "kiosk_logs", "request_nonces", "kiosk_heartbeats",
		// 0005: notices.
		"notices", "notice_outbox",
		// 0011: policy.
		"policies",
		// 0012: groups.
		"groups", "member_group_members", "key_set_group_members", "access_rules",
		// 0013: touchscreen changes.
		"kiosk_refusals",
		// 0014: remote actions.
		"remote_actions",
		// 0016: personal texts.
		"personal_texts",
		// 0018: lifecycle.
		"legal_holds", "retention_rules",
		// 0022: custody changes made at HQ.
		"org_logs", "custody_requests", "pending_releases",
		// 0023: scheduled report mail.
		"report_subscriptions",
		// 0024: webhooks.
		"webhooks", "webhook_deliveries",
		// 0025: API keys.
		"api_keys",
		// 0026: single sign-on.
		"sso_configs", "sso_logins",
		// 0028: SCIM provisioning.
		"scim_users", "scim_groups",
		// 0029: camera stills.
		"still_images",
		// 0030: offline passes.
		"passes",
		// 0031: external witnesses.
		"witness_cosignatures", "witness_state"}
}

func appendOnlyTables() []string {
	return []string{"events", "admin_log",
		// 0003: sync.
		"kiosk_leaves", "log_evidence",
		// 0022: HQ's own log.
		"org_log_leaves"}
}

// TenantTables returns the names of the tables that hold tenant rows.
func TenantTables() []string {
	return append(mutableTables(), appendOnlyTables()...)
}

// AppendOnlyTables returns the names of the tables whose rows can be
// inserted but never changed or removed.
func AppendOnlyTables() []string { return appendOnlyTables() }
