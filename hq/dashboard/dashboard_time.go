package dashboard

import (
	"html"
	"html/template"
	"slices"
	"strings"
	"sync"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/internal/i18n"
)

// Times of a site's events, custody and alarms show in the site's own
// time zone (its IANA name, checked by the store), so a manager in one
// city reads another site's times as its staff live them. A site without
// a zone shows UTC. A table says its zones once, above it (zoneList);
// its cells say a time as people think of it ("2 hours ago", "in 3
// hours": stamp; or the local date and time without the zone: local),
// with the exact time and its zone on hover (the title of a <time>).

// locations caches the zones siteLocation loaded: time.LoadLocation reads
// and parses the zone file each time, and a dashboard page formats
// hundreds of times.
var locations sync.Map // zone name -> *time.Location

// siteLocation returns the location of an IANA zone name; UTC for an
// empty or unknown name.
func siteLocation(zone string) *time.Location {
	if zone == "" {
		return time.UTC
	}
	if loc, ok := locations.Load(zone); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.UTC
	}
	locations.Store(zone, loc)
	return loc
}

// localInputLayout is the value format of an <input type="datetime-local">.
const localInputLayout = "2006-01-02T15:04"

// localInput formats t for a datetime-local input in zone.
func localInput(t time.Time, zone string) string {
	if t.IsZero() {
		return ""
	}
	return t.In(siteLocation(zone)).Format(localInputLayout)
}

// parseLocal reads a datetime-local value (what) as a wall-clock time in
// zone.
func parseLocal(l *i18n.Localizer, what, value, zone string) (time.Time, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return time.Time{}, keycab.Errorf(keycab.EINVALID, "%s", l.T("dash.err.missing", "What", what))
	}
	t, err := time.ParseInLocation(localInputLayout, value, siteLocation(zone))
	if err != nil {
		// Some browsers send seconds too.
		if t, err = time.ParseInLocation(localInputLayout+":05", value, siteLocation(zone)); err != nil {
			return time.Time{}, keycab.Errorf(keycab.EINVALID, "%s", l.T("dash.err.not_datetime", "What", what))
		}
	}
	return t, nil
}

// SiteZone is the time zone name of a site the viewer may see ("" when
// unknown: UTC).
func (dir *directory) SiteZone(siteID string) string {
	for _, s := range dir.Sites {
		if s.ID == siteID {
			return s.TimeZone
		}
	}
	return ""
}

// CabinetZone is the time zone name of a cabinet's site.
func (dir *directory) CabinetZone(cabinetID string) string {
	return dir.SiteZone(dir.CabinetSite(cabinetID))
}

// KeySetZone is the time zone name of a key set's site.
func (dir *directory) KeySetZone(keySetID string) string {
	return dir.SiteZone(dir.keySet[keySetID].SiteID)
}

// zoneList names the time zones of rows once: each zone (UTC for "")
// once, sorted, joined by commas.
func zoneList[T any](rows []T, zone func(T) string) string {
	seen := map[string]bool{}
	var zones []string
	for _, r := range rows {
		z := zone(r)
		if z == "" {
			z = "UTC"
		}
		if !seen[z] {
			seen[z] = true
			zones = append(zones, z)
		}
	}
	slices.Sort(zones)
	return strings.Join(zones, ", ")
}

// timeTag is a <time> of t showing text, with the exact time (exact) on
// hover.
func timeTag(t time.Time, text, exact string) template.HTML {
	return template.HTML(`<time datetime="` + t.UTC().Format(time.RFC3339) + `" title="` + html.EscapeString(exact) + `">` +
		html.EscapeString(text) + `</time>`)
}

// minutes is n minutes.
func minutes(n int) time.Duration { return time.Duration(n) * time.Minute }
