package store

import (
	"strconv"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
)

// EventOf turns a log entry (a kiosk's or HQ's own) into HQ's history record.
func EventOf(index int64, e *audit.Event) Event {
	out := Event{LogIndex: index, Kind: keycab.EventKind(storableText(string(e.Kind))), ActorID: storableText(e.Actor), KeySetID: storableText(e.KeySet), At: e.WallTime()}
	if e.Due != 0 {
		out.DueAt = time.UnixMilli(e.Due).UTC()
	}
	out.EventRecord = EventRecord{Reason: storableText(e.Reason), SecondID: storableText(e.Second), ThirdID: storableText(e.Detail["third"]),
		Slot: int(min(e.Slot, 1<<20)), Via: storableText(e.Detail["via"])}
	switch e.Kind {
	case keycab.EventAlarmRaised:
		out.Detail = storableText(e.Detail["alarm"])
		out.Context = storableText(e.Detail["detail"])
	case keycab.EventKeyReturned:
		var ctx []string
		if e.Detail["wrong_slot"] == "true" {
			ctx = append(ctx, "wrong slot")
		}
		if h := e.Detail["holder"]; h != "" {
			ctx = append(ctx, "for "+h)
		}
		out.Context = storableText(strings.Join(ctx, "; "))
		if e.Detail[keycab.RemoteActionID] != "" {
			out.Detail = storableText(remoteText(e))
		}
	case keycab.EventKeyHandedOver:
		out.Detail = storableText(e.Second) // the new holder
	case keycab.EventRemoteRelease, keycab.EventRemoteRefused, keycab.EventRemoteDone:
		out.Detail = storableText(remoteText(e))
	case keycab.EventKeyLost:
		if e.Detail[keycab.RemoteActionID] != "" {
			out.Detail = storableText(remoteText(e))
		}
	case keycab.EventPassUsed:
		out.Detail = storableText("pass " + e.Detail[keycab.PassID])
	case keycab.EventPassRefused:
		d := "refused: " + e.Detail["reason"]
		if id := e.Detail[keycab.PassID]; id != "" {
			d = "pass " + id + " " + d
		}
		out.Detail = storableText(d)
	case keycab.EventKeyRotate:
		out.Entry = e // HQ checks both signatures and pins the new key
	case keycab.EventAdminChange:
		out.Entry = e // HQ applies the touchscreen change (sync/wire minor 2)
	case keycab.EventClockAnchored:
		out.Entry = e // HQ's cosignature time bounds later events below
		if sec, err := strconv.ParseInt(e.Detail[keycab.AnchorHQTime], 10, 64); err == nil {
			out.Detail = "HQ's clock " + time.Unix(sec, 0).UTC().Format(time.RFC3339)
		}
	}
	return out
}

// remoteText is a remote action entry's history detail: the action, who
// asked at HQ, and why the kiosk refused.
func remoteText(e *audit.Event) string {
	d := e.Detail[keycab.RemoteKindKey] + " " + e.Detail[keycab.RemoteActionID] + " asked by " + e.Detail[keycab.RemoteBy]
	if why := e.Detail[keycab.RemoteRefusal]; why != "" {
		d += ": refused: " + why
	}
	return d
}
