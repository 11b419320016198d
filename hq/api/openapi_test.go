package api_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// The served document is valid OpenAPI, and it says what the types'
// tags cannot: the enums, the PIN pattern, the bounds. (That the
// handlers answer what it says is hq's TestOpenAPIDrift.)
func TestOpenAPIDocument(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(servedDocument(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("invalid OpenAPI document: %v", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	prop := func(schema, name string) *openapi3.Schema {
		t.Helper()
		s := doc.Components.Schemas[schema]
		if s == nil || s.Value.Properties[name] == nil {
			t.Fatalf("no %s.%s in the document", schema, name)
		}
		return s.Value.Properties[name].Value
	}
	for _, c := range []struct {
		schema, prop string
		want         []any
	}{
		{"MemberRequest", "role", []any{"owner", "admin", "site_manager", "auditor", "staff", "contractor"}},
		{"InvitationRequest", "role", []any{"owner", "admin", "site_manager", "auditor", "staff", "contractor"}},
		{"BadgeRequest", "kind", func() (out []any) {
			for _, k := range keycab.BadgeKinds() {
				out = append(out, string(k))
			}
			return out
		}()},
		{"CabinetRequest", "kind", []any{"slotted", "open-shelf"}},
		{"LabelsRequest", "format", []any{"pdf", "png"}},
	} {
		if got := prop(c.schema, c.prop).Enum; !slices.Equal(got, c.want) {
			t.Errorf("%s.%s: enum %v, want %v", c.schema, c.prop, got, c.want)
		}
	}
	if got, want := prop("PINRequest", "pin").Pattern, fmt.Sprintf("^[0-9]{%d,%d}$", keycab.MinPIN, keycab.MaxPIN); got != want {
		t.Errorf("PIN pattern %q, want %q", got, want)
	}
	ttl := prop("EnrolTokenRequest", "ttl_hours")
	if ttl.Min == nil || *ttl.Min != 1 || ttl.Max == nil || *ttl.Max != float64(store.MaxEnrolTokenTTL/time.Hour) {
		t.Errorf("ttl_hours bounds %v to %v", ttl.Min, ttl.Max)
	}
	if got := prop("BadgeRequest", "code").MaxLength; got == nil || *got != 256 {
		t.Errorf("badge code maxLength %v", got)
	}
	if s := doc.Components.Schemas["Event"].Value; s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has ||
		slices.Contains(s.Required, "hq_not_before") || !slices.Contains(s.Required, "hq_not_after") {
		t.Errorf("Event: additionalProperties %v, required %v", s.AdditionalProperties.Has, s.Required)
	}
	if rb := doc.Paths.Value("/v1/cabinets/{id}/enrol-tokens").Post.RequestBody.Value; rb.Required {
		t.Error("the enrolment token's body is documented as required")
	}
	if op := doc.Paths.Value("/v1/signup").Post; op.Security == nil || len(*op.Security) != 0 {
		t.Error("signing up asks for a session")
	}
}
