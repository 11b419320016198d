package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab/internal/testenv"
)

// Each job runs at start and again at its own interval; a failing job is
// logged and retried; a job without an interval never runs; Run returns
// once ctx ends.
func TestHousekeeping(t *testing.T) {
	var logs testenv.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	failed := make(chan struct{}, 16)
	var never bool
	slow := make(chan struct{}, 1)
	h := &housekeeping{log: slog.New(slog.NewTextHandler(&logs, nil)), jobs: []housekeepingJob{
		{"failing", time.Millisecond, func(context.Context) error {
			select {
			case failed <- struct{}{}:
			default:
			}
			return errors.New("database is locked")
		}},
		{"hourly", time.Hour, func(context.Context) error {
			slow <- struct{}{}
			return nil
		}},
		{"off", 0, func(context.Context) error { never = true; return nil }},
	}}
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	<-slow // at start, not an hour later
	for range 3 {
		<-failed // and again after failing
	}
	cancel()
	<-done
	if never {
		t.Error("a job with no interval ran")
	}
	if got := logs.String(); !strings.Contains(got, "job=failing") || !strings.Contains(got, "database is locked") {
		t.Errorf("the failure is not logged: %q", got)
	}
}
