package api

import (
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/store"
)

// The OpenAPI document is OpenAPI 3.0.3, the version kin-openapi
// generates (openapi3gen writes 3.0's nullable) and validates best. It
// is made from the route table, so it lists exactly the endpoints
// served, and its schemas are generated from the request and response
// types of types.go.

// oneOf is a route's answer that is one of several bodies.
type oneOf []any

var pathParam = regexp.MustCompile(`\{([a-z_]+)(\.\.\.)?\}`)

// roles are the roles a person can hold (not keycab.RoleKiosk).
var roles = []keycab.Role{keycab.RoleOwner, keycab.RoleAdmin, keycab.RoleSiteManager, keycab.RoleAuditor, keycab.RoleStaff, keycab.RoleContractor}

// enum converts vs for openapi3.Schema.Enum.
func enum[T ~string](vs []T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	roleType        = reflect.TypeFor[keycab.Role]()
	badgeKindType   = reflect.TypeFor[keycab.BadgeKind]()
	cabinetKindType = reflect.TypeFor[keycab.CabinetKind]()
	levelType       = reflect.TypeFor[store.PolicyLevel]()
	holdTargetType  = reflect.TypeFor[store.HoldTarget]()
	groupKindType   = reflect.TypeFor[keycab.GroupKind]()
)

// schemaCustomizer is a body type that says in its schema what its
// struct tags cannot.
type schemaCustomizer interface {
	openAPI(s *openapi3.Schema)
}

// customize is openapi3gen's SchemaCustomizer: enums for the domain's
// string types, and for every struct what encoding/json does with it:
// no other properties (additionalProperties false), every field required
// unless it may be absent (omitempty, omitzero, or a pointer not tagged
// openapi:"required"), null only for a pointer that may be sent as
// null; and each field's doc:"..." tag as its description.
func customize(_ string, t reflect.Type, _ reflect.StructTag, s *openapi3.Schema) error {
	switch t {
	case roleType:
		s.Enum = enum(roles)
	case badgeKindType:
		s.Enum = enum(keycab.BadgeKinds())
	case cabinetKindType:
		s.Enum = enum([]keycab.CabinetKind{keycab.Slotted, keycab.OpenShelf})
	case groupKindType:
		s.Enum = enum([]keycab.GroupKind{keycab.MemberGroup, keycab.KeySetGroup})
	case levelType:
		s.Enum = enum([]store.PolicyLevel{store.PolicyOrg, store.PolicySite, store.PolicyCabinet})
	case holdTargetType:
		s.Enum = enum([]store.HoldTarget{store.HoldMember, store.HoldKeySet, store.HoldSite})
	}
	if t.Kind() != reflect.Struct || t == timeType {
		return nil
	}
	s.AdditionalProperties = openapi3.AdditionalProperties{Has: openapi3.Ptr(false)}
	for _, f := range reflect.VisibleFields(t) {
		tag, ok := f.Tag.Lookup("json")
		if f.Anonymous || !f.IsExported() || !ok || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		prop := s.Properties[name]
		if prop == nil {
			return fmt.Errorf("openapi: %s.%s: no schema for %q", t, f.Name, name)
		}
		omit := slices.ContainsFunc(strings.Split(opts, ","), func(o string) bool { return o == "omitempty" || o == "omitzero" })
		ptr := f.Type.Kind() == reflect.Pointer
		required := f.Tag.Get("openapi") == "required" || (!omit && !ptr)
		if required {
			s.Required = append(s.Required, name)
		}
		if strings.HasPrefix(prop.Ref, "#/") {
			continue // another type's component; its own schema says the rest
		}
		if ptr && (required || omit) {
			prop.Value.Nullable = false // nil is refused or not sent; never null
		}
		if d := f.Tag.Get("doc"); d != "" {
			prop.Value.Description = d
		}
	}
	if c, ok := reflect.Zero(t).Interface().(schemaCustomizer); ok {
		c.openAPI(s)
	}
	return nil
}

// schemas generates the component schemas of the document's bodies.
type schemas struct {
	gen   *openapi3gen.Generator
	all   openapi3.Schemas
	names map[string]reflect.Type
	err   error // two types of one name
}

func newSchemas() *schemas {
	sc := &schemas{all: openapi3.Schemas{}, names: map[string]reflect.Type{}}
	sc.gen = openapi3gen.NewGenerator(
		openapi3gen.SchemaCustomizer(customize),
		openapi3gen.CreateComponentSchemas(openapi3gen.ExportComponentSchemasOptions{ExportComponentSchemas: true, ExportTopLevelSchema: true}),
		openapi3gen.CreateTypeNameGenerator(func(t reflect.Type) string {
			if other, ok := sc.names[t.Name()]; ok && other != t && t.Name() != "" {
				sc.err = fmt.Errorf("openapi: two body types named %s: %s and %s", t.Name(), other, t)
			}
			sc.names[t.Name()] = t
			return t.Name()
		}),
	)
	return sc
}

// ref is the schema of v's type, as a reference to its component.
func (sc *schemas) ref(v any) (*openapi3.SchemaRef, error) {
	if alts, ok := v.(oneOf); ok {
		s := &openapi3.Schema{}
		for _, a := range alts {
			r, err := sc.ref(a)
			if err != nil {
				return nil, err
			}
			s.OneOf = append(s.OneOf, r)
		}
		return openapi3.NewSchemaRef("", s), nil
	}
	r, err := sc.gen.NewSchemaRefForValue(v, sc.all)
	if err != nil {
		return nil, fmt.Errorf("openapi: schema of %T: %w", v, err)
	}
	if sc.err != nil {
		return nil, sc.err
	}
	if r.Ref == "" {
		return nil, fmt.Errorf("openapi: %T is not a named struct", v)
	}
	return r, nil
}

func (s *API) openAPIDoc() (*openapi3.T, error) {
	sc := newSchemas()
	errRef, err := sc.ref(keycab.ErrorBody{})
	if err != nil {
		return nil, err
	}
	errResp := func(desc string) *openapi3.ResponseRef {
		return &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription(desc).WithJSONSchemaRef(errRef)}
	}
	doc := &openapi3.T{
		OpenAPI: "3.0.3",
		Info:    &openapi3.Info{Title: "keycab HQ API", Version: "1"},
		Paths:   openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas: sc.all,
			SecuritySchemes: openapi3.SecuritySchemes{
				"bearer": {Value: openapi3.NewSecurityScheme().WithType("http").WithScheme("bearer").WithDescription("access_token from a sign-in, or an API key's token (kck_...; POST /v1/api-keys), which calls only the operations its scopes list in x-api-key-scopes")},
				"cookie": {Value: openapi3.NewSecurityScheme().WithType("apiKey").WithIn("cookie").WithName(hq.SessionCookie)},
			},
		},
		Security: openapi3.SecurityRequirements{{"bearer": {}}, {"cookie": {}}},
	}
	for _, rt := range s.routes() {
		op := openapi3.NewOperation()
		op.Summary = rt.summary
		op.Responses = openapi3.NewResponses(
			openapi3.WithStatus(400, errResp("Invalid input")), openapi3.WithStatus(401, errResp("Not signed in")),
			openapi3.WithStatus(403, errResp("Not allowed")), openapi3.WithStatus(404, errResp("Not found (or another organisation's)")),
			openapi3.WithStatus(429, errResp("Rate limited; see Retry-After")))
		if rt.method != "GET" {
			op.Responses.Set("409", errResp("Conflict: in use, a cap reached, or the last owner"))
		}
		ok := openapi3.NewResponse().WithDescription(http.StatusText(rt.status))
		switch {
		case rt.out != nil:
			r, err := sc.ref(rt.out)
			if err != nil {
				return nil, err
			}
			ok.WithJSONSchemaRef(r)
		case rt.raw != nil:
			ok.Content = openapi3.Content{}
			for _, mt := range rt.raw {
				ok.Content[mt] = openapi3.NewMediaType().WithSchema(openapi3.NewStringSchema().WithFormat("binary"))
			}
		}
		op.Responses.Set(fmt.Sprint(rt.status), &openapi3.ResponseRef{Value: ok})
		if scopes := keyScopes(rt.method + " " + rt.path); rt.auth && len(scopes) > 0 {
			op.Extensions = map[string]any{"x-api-key-scopes": scopes}
			op.Description = strings.TrimSpace(op.Description + "\n\nAPI keys with the scope " + strings.Join(scopes, " or ") + " may call it.")
		}
		if !rt.auth {
			op.Security = openapi3.NewSecurityRequirements()
		} else if rt.public {
			// A token, or none at all (a published log).
			op.Security = &openapi3.SecurityRequirements{{"bearer": {}}, {"cookie": {}}, {}}
		}
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			p := openapi3.NewPathParameter(m[1]).WithSchema(openapi3.NewStringSchema())
			if m[2] != "" {
				p.Description = "the rest of the path; its slashes may be sent as they are or percent-encoded"
			}
			op.AddParameter(p)
		}
		for _, q := range rt.query {
			op.AddParameter(openapi3.NewQueryParameter(q).WithSchema(openapi3.NewStringSchema()))
		}
		if rt.in != nil {
			r, err := sc.ref(rt.in)
			if err != nil {
				return nil, err
			}
			op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(!rt.optionalIn).WithJSONSchemaRef(r)}
		}
		doc.AddOperation(strings.ReplaceAll(rt.path, "...}", "}"), rt.method, op)
	}
	return doc, nil
}

func (s *API) openAPI(w http.ResponseWriter, r *http.Request) {
	hq.WriteJSON(w, http.StatusOK, s.doc)
}
