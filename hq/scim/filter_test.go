package scim

import (
	"encoding/json"
	"testing"
)

func testUser() *User {
	active := true
	return &User{Schemas: []string{SchemaUser}, ID: "mem_1", ExternalID: "Ext-1", UserName: "ada@acme.test", DisplayName: "Ada King",
		Name: &Name{Formatted: "Ada King", GivenName: "Ada", FamilyName: "King"}, Active: &active,
		Emails: []Email{{Value: "ada@acme.test", Type: "work", Primary: true}},
		Meta:   &Meta{ResourceType: "User", Created: "2026-03-02T09:00:00Z", LastModified: "2026-03-03T09:00:00Z"}}
}

// Filters over a User: each operator, case rules, value paths, logic.
func TestFilter(t *testing.T) {
	for _, c := range []struct {
		filter string
		want   bool
	}{
		{`userName eq "ADA@acme.test"`, true},
		{`UserName Eq "ada@acme.test"`, true},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ada@acme.test"`, true},
		{`externalId eq "Ext-1"`, true},
		{`externalId eq "ext-1"`, false},
		{`id eq "mem_1"`, true},
		{`userName ne "ada@acme.test"`, false},
		{`userName co "@ACME"`, true},
		{`userName sw "ada"`, true},
		{`userName ew ".test"`, true},
		{`name.familyName eq "king"`, true},
		{`emails eq "ada@acme.test"`, true},
		{`emails.type eq "home"`, false},
		{`emails[type eq "work" and primary eq true]`, true},
		{`emails[type eq "home"]`, false},
		{`active eq true`, true},
		{`active ne true`, false},
		{`meta.lastModified gt "2026-03-02T09:00:00Z"`, true},
		{`meta.created ge "2026-03-03T00:00:00Z"`, false},
		{`title pr`, false},
		{`externalId pr and not (userName eq "bob")`, true},
		{`userName eq "bob" or displayName eq "ada king"`, true},
		{`groups pr`, false},
	} {
		attrs := userAttrs
		f, err := parseFilter(c.filter, attrs)
		if err != nil && c.filter != `title pr` {
			t.Errorf("%s: %v", c.filter, err)
			continue
		}
		if c.filter == `title pr` {
			if err == nil {
				t.Errorf("%s: no error for an unknown attribute", c.filter)
			}
			continue
		}
		got, err := f.matches(testUser())
		if err != nil || got != c.want {
			t.Errorf("%s: %v %v, want %v", c.filter, got, err, c.want)
		}
	}
}

// FuzzFilter: whatever the filter, parsing and matching answer (an
// error or a result), never panic.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{`userName eq "a"`, `emails[type eq "work"]`, `a pr or not (b gt 1)`, `x[y[z eq 1]]`, `(((`, `userName eq 1.5e3`, `meta.created lt null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseFilter(s, userAttrs)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("%q: %T %v", s, err, err)
			}
			return
		}
		c.matches(testUser())
	})
}

// FuzzPatch: whatever the operations, a PATCH answers, never panics.
func FuzzPatch(f *testing.F) {
	for _, s := range []string{`[{"op":"replace","path":"active","value":false}]`, `[{"op":"add","path":"emails[type eq \"work\"].value","value":"x"}]`,
		`[{"op":"remove","path":"members[value eq \"x\"]"}]`, `[{"op":"replace","value":{"name.givenName":"A"}}]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var ops []Operation
		if json.Unmarshal([]byte(s), &ops) != nil {
			return
		}
		patchUser(testUser(), PatchOp{Operations: ops})
		g := &Group{DisplayName: "G", Members: []MemberRef{{Value: "x"}, {Value: "y"}}}
		patchGroup(g, PatchOp{Operations: ops})
	})
}
