package dashboard

import (
	"time"

	"keycab.dev/keycab/internal/i18n"
)

// titles are the pages' titles by their message id: a handler names a
// page in English and render says the title in the page's language
// (TestTitlesInCatalogue keeps every id in the catalogue). A title put
// together from data ("Kiosk policy: Front office") stays as it is.
var titles = map[string]string{
	"New site":                  "dash.title.new_site",
	"New cabinet":               "dash.title.new_cabinet",
	"New key set":               "dash.title.new_key_set",
	"New job":                   "dash.title.new_job",
	"Change job":                "dash.title.change_job",
	"Add a member":              "dash.title.add_a_member",
	"Verify your email address": "dash.title.verify_your_email_address",
	"Settings":                  "dash.title.settings",
	"Admin log":                 "dash.title.admin_log",
	"Create your organisation":  "dash.title.create_your_organisation",
	"Sign in":                   "dash.title.sign_in",
	"Two-step sign-in":          "dash.title.two_step_sign_in",
	"Reset your password":       "dash.title.reset_your_password",
	"Accept your invitation":    "dash.title.accept_your_invitation",
	"Sign in with a link":       "dash.title.sign_in_with_a_link",
	"Groups":                    "dash.title.groups",
	"History":                   "dash.title.history",
	"Export history":            "dash.title.export_history",
	"Import":                    "dash.title.import",
	"Print QR labels":           "dash.title.print_qr_labels",
	"Organisation":              "dash.title.organisation",
	"Overview":                  "dash.title.overview",
	"Keys out now":              "dash.title.keys_out_now",
	"Overdue":                   "dash.title.overdue",
	"Alarms":                    "dash.title.alarms",
	"Kiosks":                    "dash.title.kiosks",
	"People":                    "dash.title.people",
	"Key sets":                  "dash.title.key_sets",
	"Sites":                     "dash.title.sites",
	"Cabinets":                  "dash.title.cabinets",
	"Records":                   "dash.title.records",
	"Reports":                   "dash.title.reports",
	"Stop a report mail":        "dash.title.stop_a_report_mail",
	"Report mail stopped":       "dash.title.report_mail_stopped",
	"Scan a key set":            "dash.title.scan_a_key_set",
	"Search":                    "dash.title.search",
	"Export personal data":      "dash.title.export_personal_data",
	"Expired":                   "dash.title.expired",
	"Not found":                 "dash.title.not_found",
	"Not allowed":               "dash.title.not_allowed",
	"Please sign in":            "dash.title.please_sign_in",
	"Something is not right":    "dash.title.something_is_not_right",
	"Conflict":                  "dash.title.conflict",
	"Too many attempts":         "dash.title.too_many_attempts",
	"Something went wrong":      "dash.title.something_went_wrong",
	"Webhooks":                  "dash.title.webhooks",
	"Webhook":                   "dash.title.webhook",
	"API keys":                  "dash.title.api_keys",
	"Passes":                    "dash.title.passes",
	"Pass":                      "dash.title.pass",
	"Single sign-on":            "dash.title.single_sign_on",
	"Sign in with SSO":          "dash.title.sign_in_with_sso",
	"SCIM provisioning":         "dash.title.scim_provisioning",
}

// zoned is the template function "zoned": t in zone, in l's date and
// time format with the zone's abbreviation and, where that is not UTC,
// its name, as in "2 Mar 2026 09:00 GMT (Europe/London)". The zero time
// is "—".
func zoned(l *i18n.Localizer, t time.Time, zone string) string {
	if t.IsZero() {
		return "—"
	}
	loc := siteLocation(zone)
	t = t.In(loc)
	s := l.DateTime(t) + " " + t.Format("MST")
	if loc == time.UTC {
		return s
	}
	return s + " (" + loc.String() + ")"
}
