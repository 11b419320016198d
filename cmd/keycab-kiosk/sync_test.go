package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/simulator"
	"keycab.dev/keycab/store/storetest"
	"keycab.dev/keycab/sync/wire"
)

// TestHeartbeatStatus: the kiosk's heartbeats carry the door's state from
// its input and the controller's active alarms (a door forced open).
func TestHeartbeatStatus(t *testing.T) {
	cfg := storetest.Config(1)
	cfg.Cabinet.DoorLock, cfg.Cabinet.DoorSensor = "DOOR_LOCK", "DOOR"
	db := storetest.MustOpen(t, nil)
	if err := db.ApplyConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	cab, err := simulator.New(cfg.Cabinet, cfg.Slots, simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cab.Close()
	c, err := kiosk.New(kiosk.Config{Store: db, Locks: cab.Locks, Scanners: cab.Scanners(),
		Sensors: cab.Inputs.Events(), Initial: cab.Inputs.States(), Buzzer: simulator.Buzzer})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	m := &Main{cab: cab}
	status := m.heartbeatStatus(c)
	var hb wire.Heartbeat
	status(&hb)
	if hb.Door != "closed" || len(hb.Alarms) != 0 {
		t.Fatalf("idle cabinet: %+v", hb)
	}
	if err := cab.Door(true); err != nil { // opened while locked: forced
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second) // a bound, not a timing assertion
	for {
		hb = wire.Heartbeat{}
		status(&hb)
		if hb.Door == "open" && slices.Contains(hb.Alarms, keycab.AlarmDoorForced) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("door forced open: heartbeat says %+v", hb)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
