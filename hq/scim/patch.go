package scim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// PatchOp is a PATCH request (RFC 7644 3.5.2). keycab applies it to the
// resource as it stands and stores the result as a PUT would.
type PatchOp struct {
	Schemas    []string    `json:"schemas"`
	Operations []Operation `json:"Operations"`
}

// Operation is one operation of a PatchOp.
type Operation struct {
	Op    string          `json:"op"`
	Path  string          `json:"path,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

const maxOperations = 1000

// target is an operation's path, parsed; nil for an operation without
// one (its value is an object of attributes).
func (o Operation) target() (*filter.Path, error) {
	if o.Path == "" {
		return nil, nil
	}
	p, err := filter.ParsePath([]byte(o.Path))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "invalidPath", "path %q is not a SCIM attribute path", o.Path)
	}
	if uri := p.AttributePath.URI(); uri != "" && !strings.EqualFold(uri, SchemaUser) && !strings.EqualFold(uri, SchemaGroup) {
		// An extension keycab keeps nothing of (the enterprise user's
		// department, say): the operation is accepted and changes nothing.
		p.AttributePath.AttributeName = ""
	}
	return &p, nil
}

// ops checks the operations' verbs and count.
func (p PatchOp) ops() ([]Operation, error) {
	if len(p.Operations) == 0 || len(p.Operations) > maxOperations {
		return nil, errorf(http.StatusBadRequest, "invalidSyntax", "Operations: 1 to %d operations", maxOperations)
	}
	for i, o := range p.Operations {
		o.Op = strings.ToLower(o.Op)
		if o.Op != "add" && o.Op != "replace" && o.Op != "remove" {
			return nil, errorf(http.StatusBadRequest, "invalidSyntax", "Operations[%d].op: add, replace or remove, not %q", i, o.Op)
		}
		if o.Op != "remove" && len(bytes.TrimSpace(o.Value)) == 0 {
			return nil, errorf(http.StatusBadRequest, "invalidValue", "Operations[%d]: %s needs a value", i, o.Op)
		}
		if o.Op == "remove" && o.Path == "" {
			return nil, errorf(http.StatusBadRequest, "noTarget", "Operations[%d]: remove needs a path", i)
		}
		p.Operations[i] = o
	}
	return p.Operations, nil
}

// valueAs decodes an operation's value into v.
func valueAs(raw json.RawMessage, what string, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return errorf(http.StatusBadRequest, "invalidValue", "%s: the value has the wrong type", what)
	}
	return nil
}

// boolValue reads a boolean, also as the text "true" or "false" (as
// some identity providers send it).
func boolValue(raw json.RawMessage, what string) (bool, error) {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch strings.ToLower(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, errorf(http.StatusBadRequest, "invalidValue", "%s: want true or false", what)
}

// attributes splits an operation's object value into its attributes.
func attributes(raw json.RawMessage) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errorf(http.StatusBadRequest, "invalidValue", "an operation without a path needs an object of attributes")
	}
	return m, nil
}

// patchUser applies ops to u.
func patchUser(u *User, p PatchOp) error {
	ops, err := p.ops()
	if err != nil {
		return err
	}
	nameChanged := false
	for _, o := range ops {
		t, err := o.target()
		if err != nil {
			return err
		}
		if t == nil {
			attrs, err := attributes(o.Value)
			if err != nil {
				return err
			}
			for k, v := range attrs {
				attr, sub, _ := strings.Cut(k, ".")
				if err := setUser(u, o.Op, attr, sub, nil, v, &nameChanged); err != nil {
					return err
				}
			}
			continue
		}
		sub := t.AttributePath.SubAttributeName()
		if sub == "" {
			sub = t.SubAttributeName()
		}
		if err := setUser(u, o.Op, t.AttributePath.AttributeName, sub, t.ValueExpression, o.Value, &nameChanged); err != nil {
			return err
		}
	}
	if nameChanged && u.Name != nil {
		u.DisplayName = ""
		if u.Name.GivenName != "" || u.Name.FamilyName != "" {
			u.Name.Formatted = ""
		}
	}
	return nil
}

// setUser applies one operation to attribute attr (sub-attribute sub,
// filtered by expr) of u. Attributes keycab keeps nothing of are
// accepted and ignored.
func setUser(u *User, op, attr, sub string, expr filter.Expression, v json.RawMessage, nameChanged *bool) error {
	remove := op == "remove"
	str := func(dst *string, what string, required bool) error {
		if remove {
			if required {
				return errorf(http.StatusBadRequest, "mutability", "%s is required", what)
			}
			*dst = ""
			return nil
		}
		return valueAs(v, what, dst)
	}
	switch strings.ToLower(attr) {
	case "username":
		return str(&u.UserName, "userName", true)
	case "externalid":
		return str(&u.ExternalID, "externalId", false)
	case "displayname":
		return str(&u.DisplayName, "displayName", false)
	case "active":
		if remove {
			return errorf(http.StatusBadRequest, "mutability", "active cannot be removed: set it to false")
		}
		b, err := boolValue(v, "active")
		u.Active = &b
		return err
	case "name":
		*nameChanged = true
		if u.Name == nil {
			u.Name = &Name{}
		}
		switch strings.ToLower(sub) {
		case "":
			if remove {
				u.Name = nil
				return nil
			}
			var n Name
			if err := valueAs(v, "name", &n); err != nil {
				return err
			}
			u.Name = &n
			return nil
		case "givenname":
			return str(&u.Name.GivenName, "name.givenName", false)
		case "familyname":
			return str(&u.Name.FamilyName, "name.familyName", false)
		case "formatted":
			u.Name.GivenName, u.Name.FamilyName = "", ""
			return str(&u.Name.Formatted, "name.formatted", false)
		}
		return nil
	case "emails":
		if remove {
			u.Emails = nil
			return nil
		}
		if sub == "value" || expr != nil {
			var s string
			if err := valueAs(v, "emails.value", &s); err != nil {
				return err
			}
			u.Emails = []Email{{Value: s, Type: "work", Primary: true}}
			return nil
		}
		var es []Email
		if err := valueAs(v, "emails", &es); err != nil {
			return err
		}
		if op == "add" {
			es = append(slices.Clone(u.Emails), es...)
		}
		u.Emails = es
		return nil
	}
	return nil
}

// patchGroup applies ops to g.
func patchGroup(g *Group, p PatchOp) error {
	ops, err := p.ops()
	if err != nil {
		return err
	}
	for _, o := range ops {
		t, err := o.target()
		if err != nil {
			return err
		}
		if t == nil {
			attrs, err := attributes(o.Value)
			if err != nil {
				return err
			}
			for k, v := range attrs {
				if err := setGroup(g, o.Op, k, nil, v); err != nil {
					return err
				}
			}
			continue
		}
		if err := setGroup(g, o.Op, t.AttributePath.AttributeName, t.ValueExpression, o.Value); err != nil {
			return err
		}
	}
	return nil
}

func setGroup(g *Group, op, attr string, expr filter.Expression, v json.RawMessage) error {
	remove := op == "remove"
	switch strings.ToLower(attr) {
	case "displayname":
		if remove {
			return errorf(http.StatusBadRequest, "mutability", "displayName is required")
		}
		return valueAs(v, "displayName", &g.DisplayName)
	case "externalid":
		if remove {
			g.ExternalID = ""
			return nil
		}
		return valueAs(v, "externalId", &g.ExternalID)
	case "members":
		var in []MemberRef
		if len(bytes.TrimSpace(v)) > 0 {
			if err := valueAs(v, "members", &in); err != nil {
				var one MemberRef
				if valueAs(v, "members", &one) != nil {
					return err
				}
				in = []MemberRef{one}
			}
		}
		switch {
		case op == "replace" && expr == nil:
			g.Members = in
		case op == "add":
			g.Members = append(g.Members, in...)
		case remove && expr != nil:
			f := compiled{expr: expr, attrs: memberRefAttrs}
			var keep []MemberRef
			for _, m := range g.Members {
				ok, err := f.matches(m)
				if err != nil {
					return err
				}
				if !ok {
					keep = append(keep, m)
				}
			}
			g.Members = keep
		case remove && len(in) > 0:
			g.Members = slices.DeleteFunc(g.Members, func(m MemberRef) bool {
				return slices.ContainsFunc(in, func(r MemberRef) bool { return r.Value == m.Value })
			})
		case remove:
			g.Members = nil
		default:
			return errorf(http.StatusBadRequest, "invalidPath", "replace members[...] is not supported: remove and add")
		}
		return nil
	}
	return nil
}
