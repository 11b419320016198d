package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"keycab.dev/keycab/kiosk"
)

// superviseWithSystemd tells systemd the kiosk is ready once the
// controller's loop runs, then pings the watchdog at half its interval for
// as long as the loop keeps going round. A wedged controller stops the
// pings; systemd restarts the kiosk, which secures every lock at start.
// Outside systemd (no NOTIFY_SOCKET) it does nothing.
func superviseWithSystemd(ctx context.Context, c *kiosk.Controller, log *slog.Logger) {
	for !c.Alive(5 * time.Second) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	if sent, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		log.Error("systemd notify", "err", err)
		return
	} else if !sent {
		return // not run by systemd
	}
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			daemon.SdNotify(false, daemon.SdNotifyStopping)
			return
		case <-t.C:
			if !c.Alive(interval / 2) {
				log.Error("kiosk controller stopped going round; leaving the watchdog to restart the kiosk")
				continue
			}
			daemon.SdNotify(false, daemon.SdNotifyWatchdog)
		}
	}
}
