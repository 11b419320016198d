package scim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// Filters (RFC 7644 3.4.2.2) are parsed by scim2/filter-parser and
// evaluated here over a resource's JSON form: every operator (eq, ne,
// co, sw, ew, gt, ge, lt, le, pr), and, or, not and value paths such as
// emails[type eq "work"]. Text compares case-insensitively but for id
// and externalId (caseExact in RFC 7643); gt and the like compare text
// (timestamps compare as they should). A filter on an attribute the
// resource does not have is invalidFilter.

const maxFilter = 1000

// The top-level attributes a filter may name, lower-cased.
var (
	userAttrs      = map[string]bool{"id": true, "externalid": true, "username": true, "name": true, "displayname": true, "emails": true, "active": true, "groups": true, "meta": true}
	groupAttrs     = map[string]bool{"id": true, "externalid": true, "displayname": true, "members": true, "meta": true}
	memberRefAttrs = map[string]bool{"value": true, "display": true, "type": true, "$ref": true}
)

// compiled is a parsed filter; a nil expr matches everything.
type compiled struct {
	expr  filter.Expression
	attrs map[string]bool
}

func parseFilter(s string, attrs map[string]bool) (compiled, error) {
	c := compiled{attrs: attrs}
	if strings.TrimSpace(s) == "" {
		return c, nil
	}
	if len(s) > maxFilter {
		return c, errorf(http.StatusBadRequest, "invalidFilter", "a filter is at most %d bytes", maxFilter)
	}
	e, err := filter.ParseFilter([]byte(s))
	if err != nil {
		return c, errorf(http.StatusBadRequest, "invalidFilter", "the filter %q does not parse", s)
	}
	c.expr = e
	return c, c.check(e)
}

// check refuses attributes the resource does not have.
func (c compiled) check(e filter.Expression) error {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		return c.checkPath(e.AttributePath)
	case *filter.ValuePath:
		return c.checkPath(e.AttributePath)
	case *filter.LogicalExpression:
		if err := c.check(e.Left); err != nil {
			return err
		}
		return c.check(e.Right)
	case *filter.NotExpression:
		return c.check(e.Expression)
	}
	return errorf(http.StatusBadRequest, "invalidFilter", "unsupported filter")
}

func (c compiled) checkPath(p filter.AttributePath) error {
	if uri := p.URI(); uri != "" && !strings.EqualFold(uri, SchemaUser) && !strings.EqualFold(uri, SchemaGroup) {
		return errorf(http.StatusBadRequest, "invalidFilter", "no attribute %s", p)
	}
	if !c.attrs[strings.ToLower(p.AttributeName)] {
		return errorf(http.StatusBadRequest, "invalidFilter", "no attribute %q to filter on", p.AttributeName)
	}
	return nil
}

// matches evaluates the filter over v's JSON form.
func (c compiled) matches(v any) (bool, error) {
	if c.expr == nil {
		return true, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return false, err
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return false, err
	}
	obj, _ := lower(doc).(map[string]any)
	return eval(c.expr, obj)
}

// lower lower-cases the keys of a JSON document (attribute names are
// case-insensitive).
func lower(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[strings.ToLower(k)] = lower(x)
		}
		return out
	case []any:
		for i := range v {
			v[i] = lower(v[i])
		}
	}
	return v
}

func eval(e filter.Expression, obj map[string]any) (bool, error) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		l, err := eval(e.Left, obj)
		if err != nil {
			return false, err
		}
		if e.Operator == filter.AND && !l {
			return false, nil
		}
		if e.Operator == filter.OR && l {
			return true, nil
		}
		return eval(e.Right, obj)
	case *filter.NotExpression:
		ok, err := eval(e.Expression, obj)
		return !ok, err
	case *filter.ValuePath:
		for _, el := range elements(obj[strings.ToLower(e.AttributePath.AttributeName)]) {
			m, ok := el.(map[string]any)
			if !ok {
				continue
			}
			if ok, err := eval(e.ValueFilter, m); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case *filter.AttributeExpression:
		name := strings.ToLower(e.AttributePath.AttributeName)
		values := leaves(obj[name], strings.ToLower(e.AttributePath.SubAttributeName()))
		exact := name == "id" || name == "externalid"
		if e.Operator == filter.PR {
			for _, v := range values {
				if v != nil && v != "" {
					return true, nil
				}
			}
			return false, nil
		}
		if e.Operator == filter.NE {
			eq := *e
			eq.Operator = filter.EQ
			ok, err := eval(&eq, obj)
			return !ok, err
		}
		for _, v := range values {
			ok, err := compare(e.Operator, v, e.CompareValue, exact)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	}
	return false, errorf(http.StatusBadRequest, "invalidFilter", "unsupported filter")
}

// elements is a multi-valued attribute's values (a single value as one).
func elements(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}

// leaves is what an attribute expression compares: sub of each complex
// value, or a multi-valued attribute's "value".
func leaves(v any, sub string) []any {
	var out []any
	for _, el := range elements(v) {
		m, ok := el.(map[string]any)
		switch {
		case ok && sub != "":
			out = append(out, m[sub])
		case ok:
			out = append(out, m["value"])
		case sub == "":
			out = append(out, el)
		}
	}
	return out
}

func compare(op filter.CompareOperator, have, want any, exact bool) (bool, error) {
	switch w := want.(type) {
	case string:
		h, ok := have.(string)
		if !ok {
			return false, nil
		}
		if !exact {
			h, w = strings.ToLower(h), strings.ToLower(w)
		}
		switch op {
		case filter.EQ:
			return h == w, nil
		case filter.CO:
			return strings.Contains(h, w), nil
		case filter.SW:
			return strings.HasPrefix(h, w), nil
		case filter.EW:
			return strings.HasSuffix(h, w), nil
		case filter.GT:
			return h > w, nil
		case filter.GE:
			return h >= w, nil
		case filter.LT:
			return h < w, nil
		case filter.LE:
			return h <= w, nil
		}
	case bool, nil:
		if op != filter.EQ {
			return false, errorf(http.StatusBadRequest, "invalidFilter", "%s compares text, not %v", op, want)
		}
		return have == want, nil
	}
	return false, errorf(http.StatusBadRequest, "invalidFilter", "%s %s is not supported", op, fmt.Sprint(want))
}
