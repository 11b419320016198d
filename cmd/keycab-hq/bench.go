package main

// keycab-hq bench fills a database with realistic history and measures
// the history page and the dashboard over it (internal/hqload,
// docs/PERFORMANCE.md, issue 5):
//
//	keycab-hq bench [--db DSN] [--setup-db DSN] [-n EVENTS] [--samples N] [--http-samples N] [--load D] [--conns C] [--cpuprofile F] [--ingest]
//
// With --ingest the history is grown through the push path, as kiosks
// would send it (internal/hqload, Config.Ingest), instead of through the
// store.
//
// On SQLite --db defaults to $HOME/.cache/keycab/hq-history-N.db, so a
// filled database is reused by later runs. On PostgreSQL --db is the
// service role's DSN (the one measured and filled, through the store) and
// --setup-db the same database as its schema owner, used only to migrate
// it.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/api"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/dashboard"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/hqload"
)

// runBench is the bench command; it returns the process's exit code.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := hqload.Config{Handler: func(st *store.Store, a *auth.Service) (http.Handler, error) {
		srv := &hq.Server{Store: st, API: &api.API{Store: st, Auth: a}, Dashboard: &dashboard.Dashboard{Store: st, Auth: a}}
		return srv.Handler()
	}}
	fs := flag.NewFlagSet("keycab-hq bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.DB, "db", "", "database measured: sqlite:PATH or the service role's postgres:// DSN (default sqlite:$HOME/.cache/keycab/hq-history-N.db)")
	fs.StringVar(&cfg.SetupDB, "setup-db", "", "PostgreSQL: the same database as its schema owner, to migrate it")
	fs.IntVar(&cfg.Events, "n", 1_000_000, "events in the database")
	fs.IntVar(&cfg.Samples, "samples", 200, "store reads per filter")
	fs.IntVar(&cfg.HTTPSamples, "http-samples", 50, "HTTP requests per filter")
	fs.DurationVar(&cfg.Load, "load", 10*time.Second, "load generation per dashboard page (0: none)")
	fs.IntVar(&cfg.Conns, "conns", 8, "concurrent connections of the load generator")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the HTTP measurements to this `file`")
	fs.BoolVar(&cfg.Ingest, "ingest", false, "grow the history through the push path (enrolled kiosks' signed logs pushed to HQ's kiosk API) instead of the store (default database sqlite:$HOME/.cache/keycab/hq-ingest-N.db)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if cfg.DB == "" {
		db, err := hqload.DefaultDB(cfg.Events)
		if err != nil {
			fmt.Fprintln(stderr, "keycab-hq bench:", err)
			return 1
		}
		if cfg.Ingest {
			db = strings.Replace(db, "hq-history-", "hq-ingest-", 1)
		}
		cfg.DB = db
	}
	if cfg.SetupDB == "" {
		if !strings.HasPrefix(cfg.DB, "sqlite:") {
			fmt.Fprintln(stderr, "keycab-hq bench: PostgreSQL needs --setup-db (the schema owner's DSN of the same database)")
			return 2
		}
		cfg.SetupDB = cfg.DB
	}
	if err := hqload.Run(ctx, cfg, stdout); err != nil {
		fmt.Fprintln(stderr, "keycab-hq bench:", err)
		return 1
	}
	return 0
}
