package main

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// housekeeping is HQ's periodic upkeep of its data: each job runs at
// start and then every its own interval until ctx ends (a job whose
// interval is not positive never runs). A failed job is logged and tried
// again at its next round; the jobs are idempotent, so two HQ processes
// running them at once do the work once.
type housekeeping struct {
	log  *slog.Logger
	jobs []housekeepingJob
}

type housekeepingJob struct {
	name  string
	every time.Duration
	run   func(ctx context.Context) error
}

// Run runs every job until ctx ends, and returns when all have stopped.
func (h *housekeeping) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, j := range h.jobs {
		if j.every <= 0 {
			continue
		}
		wg.Go(func() { h.loop(ctx, j) })
	}
	wg.Wait()
}

func (h *housekeeping) loop(ctx context.Context, j housekeepingJob) {
	t := time.NewTicker(j.every)
	defer t.Stop()
	for {
		if err := j.run(ctx); err != nil && ctx.Err() == nil {
			h.log.Error("housekeeping failed; will retry", "job", j.name, "err", err, "in", j.every)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
