// Package scim is HQ's SCIM 2.0 edge (RFC 7643 and 7644) under
// /scim/v2/: an identity provider provisions an organisation's members
// (Users) and member groups (Groups) with the organisation's SCIM token
// (store/scim.go). It is written by hand rather than on a SCIM server
// library: the store already decides every rule (who may change whom,
// unique user names, the admin log), so the edge is only the wire
// format, the filter (parsed by scim2/filter-parser) and PATCH, and a
// library's own resource model and callbacks would sit between the two
// without taking anything off either.
package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/store"
)

// Prefix is where the edge answers.
const Prefix = hq.SCIMPrefix

// The schema and message URNs.
const (
	SchemaUser     = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup    = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaList     = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaPatch    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaError    = "urn:ietf:params:scim:api:messages:2.0:Error"
	schemaSPC      = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	schemaResType  = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	schemaSchema   = "urn:ietf:params:scim:schemas:core:2.0:Schema"
	contentType    = "application/scim+json"
	maxResults     = 200
	defaultResults = 100
)

// SCIM is the edge. Set the fields, then register it on HQ's server.
type SCIM struct {
	Store  *store.Store
	Auth   *auth.Service
	Logger *slog.Logger
}

// Register serves everything under Prefix: every answer there,
// refusals included, is SCIM's.
func (s *SCIM) Register(mux hq.Mux) error {
	if s.Store == nil || s.Auth == nil {
		return errors.New("scim: Store and Auth are required")
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	mux.Handle(Prefix, http.HandlerFunc(s.serve))
	return nil
}

// Error is a SCIM error (RFC 7644 3.12).
type Error struct {
	Status   int
	SCIMType string
	Detail   string
}

func (e *Error) Error() string { return e.Detail }

func errorf(status int, scimType, format string, args ...any) *Error {
	return &Error{Status: status, SCIMType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// request is one SCIM call, authenticated.
type request struct {
	*http.Request
	sc   store.Scope
	base string // the absolute URL of Prefix (HQ's base URL), for meta.location
}

func (s *SCIM) serve(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, Prefix)
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="keycab SCIM"`)
		s.fail(w, r, errorf(http.StatusUnauthorized, "", "send the organisation's SCIM token as a bearer token"))
		return
	}
	p, err := s.Auth.AuthenticateSCIM(r.Context(), strings.TrimSpace(token))
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="keycab SCIM", error="invalid_token"`)
		s.fail(w, r, err)
		return
	}
	req := &request{Request: r, sc: p.Scope(), base: s.Auth.BaseURL() + Prefix}
	parts := strings.Split(rest, "/")
	var v any
	status := http.StatusOK
	switch {
	case len(parts) == 1 && parts[0] == "ServiceProviderConfig" && r.Method == "GET":
		v = serviceProviderConfig(req.base)
	case len(parts) == 1 && parts[0] == "ResourceTypes" && r.Method == "GET":
		v = listOf(resourceTypes(req.base), 1)
	case len(parts) == 2 && parts[0] == "ResourceTypes" && r.Method == "GET":
		v, err = oneOf(resourceTypes(req.base), parts[1])
	case len(parts) == 1 && parts[0] == "Schemas" && r.Method == "GET":
		v = listOf(schemas(req.base), 1)
	case len(parts) == 2 && parts[0] == "Schemas" && r.Method == "GET":
		v, err = oneOf(schemas(req.base), parts[1])
	case len(parts) == 1 && parts[0] == "Users":
		switch r.Method {
		case "GET":
			v, err = s.listUsers(req)
		case "POST":
			v, err = s.createUser(req)
			status = http.StatusCreated
		default:
			err = errorf(http.StatusMethodNotAllowed, "", "%s /Users: GET or POST", r.Method)
		}
	case len(parts) == 2 && parts[0] == "Users" && parts[1] != "":
		v, err = s.user(req, parts[1])
		if r.Method == "DELETE" && err == nil {
			status = http.StatusNoContent
		}
	case len(parts) == 1 && parts[0] == "Groups":
		switch r.Method {
		case "GET":
			v, err = s.listGroups(req)
		case "POST":
			v, err = s.createGroup(req)
			status = http.StatusCreated
		default:
			err = errorf(http.StatusMethodNotAllowed, "", "%s /Groups: GET or POST", r.Method)
		}
	case len(parts) == 2 && parts[0] == "Groups" && parts[1] != "":
		v, err = s.group(req, parts[1])
		if r.Method == "DELETE" && err == nil {
			status = http.StatusNoContent
		}
	case (len(parts) == 1 || len(parts) == 2) && isEndpoint(parts[0]):
		err = errorf(http.StatusMethodNotAllowed, "", "%s is not answered at %s", r.Method, r.URL.Path)
	default:
		err = errorf(http.StatusNotFound, "", "no SCIM endpoint at %s", r.URL.Path)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	if loc := location(v); loc != "" && status == http.StatusCreated {
		w.Header().Set("Location", loc)
	}
	w.WriteHeader(status)
	if status != http.StatusNoContent {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
	}
}

func isEndpoint(s string) bool {
	switch s {
	case "ServiceProviderConfig", "ResourceTypes", "Schemas", "Users", "Groups":
		return true
	}
	return false
}

// location is a resource's meta.location.
func location(v any) string {
	switch v := v.(type) {
	case *User:
		return v.Meta.Location
	case *Group:
		return v.Meta.Location
	}
	return ""
}

// WriteError answers err as a SCIM error body (for HQ's middleware).
func (s *SCIM) WriteError(w http.ResponseWriter, r *http.Request, err error) { s.fail(w, r, err) }

// fail answers err as a SCIM error body: keycab's errors by their code,
// and anything else as a 500 that names nothing (logged).
func (s *SCIM) fail(w http.ResponseWriter, r *http.Request, err error) {
	var se *Error
	if !errors.As(err, &se) {
		se = &Error{Detail: keycab.ErrorMessage(err)}
		switch keycab.ErrorCode(err) {
		case keycab.EINVALID:
			se.Status, se.SCIMType = http.StatusBadRequest, "invalidValue"
		case keycab.ENOTFOUND:
			se.Status = http.StatusNotFound
		case keycab.ECONFLICT:
			se.Status, se.SCIMType = http.StatusConflict, "uniqueness"
		case keycab.EUNAUTHORIZED:
			se.Status = http.StatusUnauthorized
		case keycab.EFORBIDDEN:
			se.Status = http.StatusForbidden
		case keycab.ECAPACITY:
			se.Status = http.StatusForbidden
		case keycab.ETOOLARGE:
			se.Status, se.SCIMType = http.StatusRequestEntityTooLarge, "tooMany"
		case keycab.EUNAVAILABLE:
			se.Status = http.StatusServiceUnavailable
		case keycab.ENOTIMPLEMENTED:
			se.Status = http.StatusNotImplemented
		default:
			s.Logger.Error("scim request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			se.Status, se.Detail = http.StatusInternalServerError, "internal error"
		}
	}
	body := map[string]any{"schemas": []string{SchemaError}, "status": strconv.Itoa(se.Status), "detail": se.Detail}
	if se.SCIMType != "" {
		body["scimType"] = se.SCIMType
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(se.Status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body)
}

// decode reads a JSON body of at most hq.MaxBody bytes into v (fields v
// lacks are ignored: identity providers send attributes keycab keeps
// no record of), and checks that its schemas name want.
func decode(r *http.Request, v any, want string) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != contentType && mt != "application/json") {
			return errorf(http.StatusUnsupportedMediaType, "invalidSyntax", "send %s", contentType)
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, hq.MaxBody+1))
	if err != nil {
		return errorf(http.StatusBadRequest, "invalidSyntax", "request body unreadable")
	}
	if len(body) > hq.MaxBody {
		return errorf(http.StatusRequestEntityTooLarge, "tooMany", "request body larger than %d KiB", hq.MaxBody>>10)
	}
	if !keycab.ValidJSONText(body) {
		return errorf(http.StatusBadRequest, "invalidSyntax", "request body holds NUL or is not valid UTF-8")
	}
	var head struct {
		Schemas []string `json:"schemas"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return errorf(http.StatusBadRequest, "invalidSyntax", "malformed JSON body: %s", jsonProblem(err))
	}
	found := false
	for _, s := range head.Schemas {
		found = found || strings.EqualFold(s, want)
	}
	if !found {
		return errorf(http.StatusBadRequest, "invalidSyntax", "schemas must list %s", want)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "invalidSyntax", "malformed body: %s", jsonProblem(err))
	}
	return nil
}

// jsonProblem says what was wrong with a body, naming no Go type.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("%s has the wrong type", te.Field)
		}
		return "the body is not an object"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	return "unexpected end or data"
}

// ListResponse is a page of resources (RFC 7644 3.4.2).
type ListResponse struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []any    `json:"Resources"`
}

func listOf[T any](all []T, start int) ListResponse {
	out := ListResponse{Schemas: []string{SchemaList}, TotalResults: len(all), StartIndex: start, Resources: []any{}}
	for _, v := range all {
		out.Resources = append(out.Resources, v)
	}
	out.ItemsPerPage = len(out.Resources)
	return out
}

// page reads startIndex and count (RFC 7644 3.4.2.4): startIndex below
// 1 is 1, count below 0 is 0, above maxResults is maxResults.
func page(r *http.Request) (start, count int, err error) {
	start, count = 1, defaultResults
	q := r.URL.Query()
	if v := q.Get("startIndex"); v != "" {
		if start, err = strconv.Atoi(v); err != nil {
			return 0, 0, errorf(http.StatusBadRequest, "invalidValue", "startIndex: want an integer")
		}
		start = max(start, 1)
	}
	if v := q.Get("count"); v != "" {
		if count, err = strconv.Atoi(v); err != nil {
			return 0, 0, errorf(http.StatusBadRequest, "invalidValue", "count: want an integer")
		}
		count = min(max(count, 0), maxResults)
	}
	return start, count, nil
}

// paged is the page of all that r asks for.
func paged[T any](r *http.Request, all []T) (ListResponse, error) {
	start, count, err := page(r)
	if err != nil {
		return ListResponse{}, err
	}
	out := ListResponse{Schemas: []string{SchemaList}, TotalResults: len(all), StartIndex: start, Resources: []any{}}
	for i := start - 1; i < len(all) && len(out.Resources) < count; i++ {
		out.Resources = append(out.Resources, all[i])
	}
	out.ItemsPerPage = len(out.Resources)
	return out, nil
}

// Meta is a resource's meta attribute.
type Meta struct {
	ResourceType string `json:"resourceType"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Location     string `json:"location,omitempty"`
}
