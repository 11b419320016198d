package keycab_test

import (
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
)

func TestDecideTake(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Skip("no time zone database")
	}
	now := time.Date(2026, 3, 4, 10, 30, 0, 0, london) // a Wednesday
	ks := keycab.KeySet{ID: "ks-1", SiteID: "site-1", Label: "12 High St"}
	staff := keycab.Member{ID: "m-ben", Name: "Ben Okafor", Role: keycab.RoleStaff}
	names := map[string]string{"m-jane": "Jane Smith", "m-ben": "Ben Okafor"}
	base := func() keycab.Facts {
		return keycab.Facts{
			Now: now, Location: london, Policy: keycab.DefaultPolicy(), Member: staff, KeySet: ks,
			Name: func(id string) string { return names[id] },
		}
	}
	cases := []struct {
		name   string
		change func(f *keycab.Facts)
		allow  bool
		reason string // part of the reason
		pin    bool
		second bool
	}{
		{"plain take", func(f *keycab.Facts) {}, true, "", false, false},
		{"disabled", func(f *keycab.Facts) { f.Member.Disabled = true }, false, "disabled", false, false},
		{"auditor", func(f *keycab.Facts) { f.Member.Role = keycab.RoleAuditor }, false, "role (auditor) cannot take", false, false},
		{"other site", func(f *keycab.Facts) { f.Member.SiteIDs = []string{"site-2"} }, false, "do not have access to keys for this property", false, false},
		{"own site", func(f *keycab.Facts) { f.Member.SiteIDs = []string{"site-2", "site-1"} }, true, "", false, false},
		// Groups: a key set in a key-set group is for the member groups a
		// rule names, when its schedule allows; groups never widen.
		{"group: no rule reaches the member", func(f *keycab.Facts) {
			f.KeySet.Groups = []string{"kg-plant"}
			f.Member.Groups = []string{"mg-office"}
			f.Rules = []keycab.AccessRule{{MemberGroupID: "mg-engineers", KeySetGroupID: "kg-plant"}}
		}, false, "Your groups do not give you 12 High St", false, false},
		{"group: a rule reaches the member", func(f *keycab.Facts) {
			f.KeySet.Groups = []string{"kg-other", "kg-plant"}
			f.Member.Groups = []string{"mg-engineers"}
			f.Rules = []keycab.AccessRule{{MemberGroupID: "mg-engineers", KeySetGroupID: "kg-plant"}}
		}, true, "", false, false},
		{"group: the rule's schedule is closed", func(f *keycab.Facts) {
			f.KeySet.Groups = []string{"kg-plant"}
			f.Member.Groups = []string{"mg-engineers"}
			f.Rules = []keycab.AccessRule{{MemberGroupID: "mg-engineers", KeySetGroupID: "kg-plant",
				Schedule: []keycab.Window{{Days: []time.Weekday{time.Saturday}, From: 0, Until: 1440}}}}
		}, false, "only at set times", false, false},
		{"group: a contractor in the group still needs a job", func(f *keycab.Facts) {
			f.Member.Role = keycab.RoleContractor
			f.KeySet.Groups = []string{"kg-plant"}
			f.Member.Groups = []string{"mg-engineers"}
			f.Rules = []keycab.AccessRule{{MemberGroupID: "mg-engineers", KeySetGroupID: "kg-plant"}}
		}, false, "no job", false, false},
		{"group: a key set in no group ignores rules", func(f *keycab.Facts) {
			f.Rules = []keycab.AccessRule{{MemberGroupID: "mg-engineers", KeySetGroupID: "kg-plant"}}
		}, true, "", false, false},
		{"access ended", func(f *keycab.Facts) { f.Member.AccessUntil = now.Add(-time.Minute) }, false, "Your access ended", false, false},
		{"access ends later", func(f *keycab.Facts) { f.Member.AccessUntil = now.Add(time.Minute) }, true, "", false, false},
		{"triple release", func(f *keycab.Facts) { f.KeySet.TripleRelease = true }, true, "", false, true},
		{"already out", func(f *keycab.Facts) {
			f.Out = []keycab.Checkout{{KeySetID: "ks-1", MemberID: "m-jane", TakenAt: now.Add(-time.Hour)}}
		}, false, "out with J. Smith since 09:30", false, false},
		{"reserved by another", func(f *keycab.Facts) {
			f.Reservations = []keycab.Reservation{{KeySetID: "ks-1", MemberID: "m-jane", From: now.Add(-time.Hour), Until: time.Date(2026, 3, 4, 14, 0, 0, 0, london)}}
		}, false, "reserved by J. Smith until 14:00", false, false},
		{"reserved by me", func(f *keycab.Facts) {
			f.Reservations = []keycab.Reservation{{KeySetID: "ks-1", MemberID: "m-ben", From: now.Add(-time.Hour), Until: now.Add(time.Hour)}}
		}, true, "", false, false},
		{"reservation later", func(f *keycab.Facts) {
			f.Reservations = []keycab.Reservation{{KeySetID: "ks-1", MemberID: "m-jane", From: now.Add(time.Hour), Until: now.Add(2 * time.Hour)}}
		}, true, "", false, false},
		{"contractor in window", func(f *keycab.Facts) {
			f.Member.Role = keycab.RoleContractor
			f.Jobs = []keycab.Job{{MemberID: "m-ben", KeySetIDs: []string{"ks-1"}, From: now.Add(-time.Hour), Until: now.Add(time.Hour)}}
		}, true, "", false, false},
		{"contractor outside window", func(f *keycab.Facts) {
			f.Member.Role = keycab.RoleContractor
			f.Jobs = []keycab.Job{{MemberID: "m-ben", KeySetIDs: []string{"ks-1"}, From: now.Add(2 * time.Hour), Until: now.Add(4 * time.Hour)}}
		}, false, "job for 12 High St runs 12:30 to 14:30", false, false},
		{"contractor without job", func(f *keycab.Facts) {
			f.Member.Role = keycab.RoleContractor
			f.Jobs = []keycab.Job{{MemberID: "m-ben", KeySetIDs: []string{"ks-9"}, From: now.Add(-time.Hour), Until: now.Add(time.Hour)}}
		}, false, "no job that includes 12 High St", false, false},
		{"limit reached", func(f *keycab.Facts) {
			f.Member.MaxKeysOut = 1
			f.Out = []keycab.Checkout{{KeySetID: "ks-2", MemberID: "m-ben", TakenAt: now}}
		}, false, "hold 1 key set, your limit", false, false},
		{"overdue blocks", func(f *keycab.Facts) {
			f.Out = []keycab.Checkout{{KeySetID: "ks-2", MemberID: "m-ben", TakenAt: now.Add(-10 * time.Hour), DueAt: now.Add(-2 * time.Hour)}}
		}, false, "return the overdue key", false, false},
		{"overdue allowed by policy", func(f *keycab.Facts) {
			f.Policy.BlockWhileOverdue = false
			f.Out = []keycab.Checkout{{KeySetID: "ks-2", MemberID: "m-ben", DueAt: now.Add(-2 * time.Hour)}}
		}, true, "", false, false},
		{"outside schedule", func(f *keycab.Facts) {
			f.Schedule = []keycab.Window{{Days: []time.Weekday{time.Monday, time.Tuesday}, From: 8 * 60, Until: 18 * 60}}
		}, false, "at this time under your schedule", false, false},
		{"inside schedule", func(f *keycab.Facts) {
			f.Schedule = []keycab.Window{{Days: []time.Weekday{time.Wednesday}, From: 8 * 60, Until: 18 * 60}}
		}, true, "", false, false},
		{"night schedule from Tuesday", func(f *keycab.Facts) {
			f.Now = time.Date(2026, 3, 4, 2, 0, 0, 0, london)
			f.Schedule = []keycab.Window{{Days: []time.Weekday{time.Tuesday}, From: 22 * 60, Until: 6 * 60}}
		}, true, "", false, false},
		{"admin needs PIN", func(f *keycab.Facts) { f.Member.Role = keycab.RoleAdmin }, true, "", true, false},
		{"key set needs PIN", func(f *keycab.Facts) { f.KeySet.PINRequired = true }, true, "", true, false},
		{"sensitive needs second", func(f *keycab.Facts) { f.KeySet.Sensitive = true }, true, "", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := base()
			tc.change(&f)
			d := keycab.DecideTake(f)
			if d.Allowed != tc.allow || !strings.Contains(d.Reason, tc.reason) || d.NeedsPIN != tc.pin || (d.Approvers > 0) != tc.second {
				t.Fatalf("got %+v, want allowed=%v reason~%q pin=%v second=%v", d, tc.allow, tc.reason, tc.pin, tc.second)
			}
			if !d.Allowed && d.Reason == "" {
				t.Fatal("refusal without a reason")
			}
		})
	}
}

func TestDecideSecond(t *testing.T) {
	f := keycab.Facts{Now: time.Now(), Policy: keycab.DefaultPolicy(), KeySet: keycab.KeySet{ID: "ks-p", Sensitive: true}}
	f.Member = keycab.Member{ID: "m-ana", Role: keycab.RoleAdmin}
	if d := keycab.DecideSecond(f, "m-ana"); d.Allowed {
		t.Fatal("the first member confirmed their own release")
	}
	if d := keycab.DecideSecond(f, "m-ben"); !d.Allowed || d.Approvers != 0 {
		t.Fatalf("second admin: %+v", d)
	}
	f.Member.Role = keycab.RoleContractor
	if d := keycab.DecideSecond(f, "m-ben"); d.Allowed {
		t.Fatal("a contractor confirmed a release")
	}
	f.Member = keycab.Member{ID: "m-aud", Role: keycab.RoleAuditor}
	if d := keycab.DecideSecond(f, "m-ben"); d.Allowed {
		t.Fatal("an auditor confirmed a release")
	}
}

func TestShortName(t *testing.T) {
	for in, want := range map[string]string{"Jane Smith": "J. Smith", "Ana": "Ana", "María José García": "M. José García", "  ": ""} {
		if got := keycab.ShortName(in); got != want {
			t.Errorf("ShortName(%q) = %q, want %q", in, got, want)
		}
	}
}

// A time on the day of now reads as the time alone; any other day says
// which, in the site's zone.
func TestShortTime(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 23, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		at   time.Time
		loc  *time.Location
		want string
	}{
		{now.Add(20 * time.Minute), time.UTC, "23:50"},
		{now.Add(40 * time.Minute), time.UTC, "Fri 4 Dec 00:10"},
		{now.Add(-24 * time.Hour), nil, "Wed 2 Dec 23:30"},
		{time.Date(2026, 7, 1, 23, 30, 0, 0, time.UTC), london, "Thu 2 Jul 00:30"}, // BST
	} {
		if got := keycab.ShortTime(c.at, now, c.loc); got != c.want {
			t.Errorf("ShortTime(%v) = %q, want %q", c.at, got, c.want)
		}
	}
}
