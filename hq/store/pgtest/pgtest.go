// Package pgtest runs a throwaway PostgreSQL server for tests: initdb and
// pg_ctl in a temporary directory, listening only on a unix socket there,
// with a database owner role and a service role like production's
// (OwnerRole, AppRole), and a fresh database per test. Close stops the
// server and removes the directory.
//
// The binaries are found under /usr/lib/postgresql/*/bin (the newest
// version), or in the directory named by KEYCAB_PG_BIN. initdb refuses to
// run as root, so when the tests run as root (as in CI) the server runs as
// the "postgres" system user, which the Debian package creates.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// The roles every database gets: OwnerRole owns the schema and runs
// migrations; AppRole is the service's role (no superuser, NOBYPASSRLS,
// owns nothing).
const (
	OwnerRole = "keycab_owner"
	AppRole   = "keycab_app"
	superuser = "postgres"
	port      = 5432
)

// Server is a running throwaway PostgreSQL server.
type Server struct {
	dir  string // temporary directory: data/, the socket, the log
	bin  string
	cred *syscall.Credential // nil when not root
	n    atomic.Int64
	db   *sql.DB // superuser connection to the postgres database
}

// Database is one fresh database on a Server.
type Database struct {
	Name string
	// OwnerDSN connects as OwnerRole (migrations); AppDSN as AppRole (the
	// service); SuperDSN as the superuser (fixtures only).
	OwnerDSN string
	AppDSN   string
	SuperDSN string
}

// Start initialises and starts a server. It fails (it does not skip) when
// PostgreSQL is not installed.
func Start(ctx context.Context) (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "keycab-pg-")
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s := &Server{dir: dir, bin: bin}
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context) error {
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("start postgres as root: no postgres system user (install the postgresql package): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(s.dir, uid, gid); err != nil {
			return fmt.Errorf("start postgres: chown %s: %w", s.dir, err)
		}
	}
	data := filepath.Join(s.dir, "data")
	if err := s.run(ctx, "initdb", "-D", data, "-U", superuser, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return err
	}
	opts := fmt.Sprintf("-k %s -c listen_addresses= -p %d -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB", s.dir, port)
	if err := s.run(ctx, "pg_ctl", "-D", data, "-l", filepath.Join(s.dir, "server.log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		return err
	}
	cfg, err := pgx.ParseConfig(s.dsn(superuser, "postgres"))
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.db = stdlib.OpenDB(*cfg)
	for _, q := range []string{
		"CREATE ROLE " + OwnerRole + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS",
		"CREATE ROLE " + AppRole + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT",
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("start postgres: %s: %w", q, err)
		}
	}
	return nil
}

// run runs one of the server's programs, as the postgres user when root.
func (s *Server) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		return fmt.Errorf("postgres %s: %w\n%s\n%s", name, err, out.Bytes(), log)
	}
	return nil
}

// findBin returns the directory of initdb and pg_ctl.
func findBin() (string, error) {
	if d := os.Getenv("KEYCAB_PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("postgres not found: no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func (s *Server) dsn(role, db string) string {
	return fmt.Sprintf("postgres://%s@/%s?host=%s&port=%d&sslmode=disable", role, db, s.dir, port)
}

// NewDatabase creates an empty database owned by OwnerRole.
func (s *Server) NewDatabase(ctx context.Context) (Database, error) {
	name := fmt.Sprintf("t%d_%s", s.n.Add(1), strings.ToLower(rand.Text()[:6]))
	if _, err := s.db.ExecContext(ctx, "CREATE DATABASE "+name+" OWNER "+OwnerRole+" TEMPLATE template0"); err != nil {
		return Database{}, fmt.Errorf("create database %s: %w", name, err)
	}
	return Database{Name: name, OwnerDSN: s.dsn(OwnerRole, name), AppDSN: s.dsn(AppRole, name), SuperDSN: s.dsn(superuser, name)}, nil
}

// DropDatabase removes a database, closing its connections.
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	if _, err := s.db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// MustDatabase creates a database for one test and drops it when the test
// ends.
func (s *Server) MustDatabase(tb testing.TB) Database {
	tb.Helper()
	d, err := s.NewDatabase(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.DropDatabase(context.Background(), d.Name); err != nil {
			tb.Error(err)
		}
	})
	return d
}

// PID returns the process id of the server's postmaster, the parent of
// every backend (for CPU accounting in benchmarks).
func (s *Server) PID() (int, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "data", "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("postgres pid: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0, fmt.Errorf("postgres pid: %w", err)
	}
	return pid, nil
}

// Close stops the server and removes its directory.
func (s *Server) Close() error {
	var err error
	if s.db != nil {
		s.db.Close()
	}
	if _, statErr := os.Stat(filepath.Join(s.dir, "data", "postmaster.pid")); statErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		err = s.run(ctx, "pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	}
	return errors.Join(err, os.RemoveAll(s.dir))
}
