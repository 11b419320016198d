package main

import (
	"context"
	"log/slog"
	"time"
)

// housekeeping is HQ's periodic upkeep of its data: each job runs at
// start and then every interval until ctx ends. A failed job is logged
// and tried again at the next round; the jobs are idempotent, so two HQ
// processes running them at once do the work once.
type housekeeping struct {
	log      *slog.Logger
	interval time.Duration
	jobs     []housekeepingJob
}

type housekeepingJob struct {
	name string
	run  func(ctx context.Context) error
}

func (h *housekeeping) Run(ctx context.Context) {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		for _, j := range h.jobs {
			if err := j.run(ctx); err != nil && ctx.Err() == nil {
				h.log.Error("housekeeping failed", "job", j.name, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
