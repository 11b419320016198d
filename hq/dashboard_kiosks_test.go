package hq_test

import (
	"context"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// The kiosks page shows every field of a kiosk's newest heartbeat.
func TestDashboardKioskHeartbeat(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	w.MustSignupWeb(t, "Acme Lettings", "Ann Owner", "ann@acme.test")
	s := MustSeed(t, e, w, e.clock.Now(), 4)
	MustNoErr(t, e.st.RecordHeartbeat(context.Background(), store.KioskScope(s.orgID, s.kioskA.ID), store.Heartbeat{
		Door: "open", Alarms: []string{keycab.AlarmDoorHeld, keycab.AlarmTamper}, LogSize: 1234, CosignedSize: 1200,
		ConfigVersion: 77, Software: "keycab-kiosk 0123456789ab", DiskFree: 12_345_000_000, TemperatureMC: 48_312}))
	MustPage(t, w.get(t, "/kiosks"), 200, "Open", "Door held, Tamper", ">1200<", "v77", "keycab-kiosk 0123456789ab", "12.3 GB", "48.3 °C")
}
