package kioskapi_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"keycab.dev/keycab"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/sync/agent"
	"keycab.dev/keycab/sync/wire"
)

// TestHeartbeat: every field of a heartbeat reaches HQ from what the
// kiosk has: the door and alarms from its controller (Status), the log,
// cosigned and config sizes from its database, disk free by statfs of its
// data directory, and the temperature from a thermal zone file.
func TestHeartbeat(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		thermal := filepath.Join(t.TempDir(), "temp")
		MustNoErr(t, os.WriteFile(thermal, []byte("48312\n"), 0o600))
		k := MustKiosk(t, h, h.srv.URL, func(c *agent.Config) { c.ThermalFile = thermal; c.Software = "keycab-kiosk test" })
		if _, err := k.a.PullConfig(ctx, 0); err != nil {
			t.Fatal(err)
		}
		MustAppend(t, k.db, h, 10, "hb")
		if _, err := k.a.Push(ctx); err != nil {
			t.Fatal(err)
		}
		pushed := k.db.Size() // the config.applied entry and the 10
		MustAppend(t, k.db, h, 3, "unpushed")
		// The controller starts after the agent.
		k.a.SetStatus(func(hb *wire.Heartbeat) {
			hb.Door = "open"
			hb.Alarms = []string{keycab.AlarmDoorHeld, keycab.AlarmTamper}
		})
		_, err := k.a.Heartbeat(ctx)
		MustNoErr(t, err)

		health := must[[]hqstore.KioskHealth](t)(h.s.KioskLogs().ListKioskHealth(ctx, h.own(), time.Minute))
		if len(health) != 1 {
			t.Fatalf("%d kiosks", len(health))
		}
		got := health[0].Heartbeat
		cv := must[int64](t)(k.db.ConfigVersion(ctx))
		var st unix.Statfs_t
		MustNoErr(t, unix.Statfs(filepath.Dir(k.path), &st))
		total := int64(st.Blocks) * int64(st.Bsize)
		for _, c := range []struct {
			what string
			ok   bool
		}{
			{"door", got.Door == "open"},
			{"alarms", slices.Equal(got.Alarms, []string{keycab.AlarmDoorHeld, keycab.AlarmTamper})},
			{"log size", got.LogSize == pushed+3},
			{"cosigned size", got.CosignedSize == pushed},
			{"config version", cv > 0 && got.ConfigVersion == cv},
			{"software", got.Software == "keycab-kiosk test"},
			{"disk free", got.DiskFree > 0 && got.DiskFree <= total},
			{"temperature", got.TemperatureMC == 48312},
			{"time", time.Since(got.At) < time.Minute},
		} {
			if !c.ok {
				t.Errorf("%s did not arrive: %+v", c.what, got)
			}
		}

		// Without a thermal zone the heartbeat says no temperature, and
		// HQ does not keep the old one.
		MustNoErr(t, os.Remove(thermal))
		k.a.SetStatus(nil)
		_, err = k.a.Heartbeat(ctx)
		MustNoErr(t, err)
		got = must[[]hqstore.KioskHealth](t)(h.s.KioskLogs().ListKioskHealth(ctx, h.own(), time.Minute))[0].Heartbeat
		if got.TemperatureMC != 0 || got.Door != "" || len(got.Alarms) != 0 {
			t.Fatalf("stale fields kept: %+v", got)
		}
	})
}
