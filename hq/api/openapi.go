package api

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/store"
)

// The OpenAPI 3.1 document is made from the route table, so it lists
// exactly the endpoints served.

var pathParam = regexp.MustCompile(`\{([a-z_]+)(\.\.\.)?\}`)

func obj(props map[string]string, required ...string) map[string]any {
	p := map[string]any{}
	for k, t := range props {
		p[k] = map[string]any{"type": t}
	}
	o := map[string]any{"type": "object", "properties": p}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func (s *API) openAPIDoc() map[string]any {
	roles := []string{"owner", "admin", "site_manager", "auditor", "staff", "contractor"}
	schemas := map[string]any{
		"Signup":         obj(map[string]string{"org_name": "string", "name": "string", "email": "string", "password": "string"}, "org_name", "email", "password"),
		"Login":          obj(map[string]string{"email": "string", "password": "string", "org_id": "string"}, "email", "password"),
		"MFA":            obj(map[string]string{"mfa_token": "string", "code": "string"}, "mfa_token", "code"),
		"Refresh":        obj(map[string]string{"refresh_token": "string"}, "refresh_token"),
		"PasswordChange": obj(map[string]string{"current_password": "string", "new_password": "string"}, "current_password", "new_password"),
		"EmailOnly":      obj(map[string]string{"email": "string"}, "email"),
		"ResetConfirm":   obj(map[string]string{"token": "string", "password": "string"}, "token", "password"),
		"MagicConfirm":   obj(map[string]string{"token": "string", "org_id": "string"}, "token"),
		"Code":           obj(map[string]string{"code": "string"}, "code"),
		"Invitation": map[string]any{"type": "object", "required": []string{"email", "role"}, "properties": map[string]any{
			"email":    map[string]any{"type": "string"},
			"role":     map[string]any{"type": "string", "enum": roles},
			"site_ids": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		}},
		"Accept": obj(map[string]string{"token": "string", "name": "string", "password": "string"}, "token"),
		"Tokens": obj(map[string]string{"access_token": "string", "refresh_token": "string", "expires_at": "string",
			"idle_timeout_seconds": "integer", "org_id": "string", "member_id": "string"}),
		"Site": obj(map[string]string{"name": "string", "address": "string", "time_zone": "string", "notes": "string"}),
		"Cabinet": map[string]any{"type": "object", "properties": map[string]any{
			"site_id": map[string]any{"type": "string", "description": "on create only; a cabinet never moves"},
			"name":    map[string]any{"type": "string"}, "door_lock": map[string]any{"type": "string"}, "door_sensor": map[string]any{"type": "string"},
			"kind": map[string]any{"type": "string", "enum": []string{string(keycab.Slotted), string(keycab.OpenShelf)}},
		}},
		"Slot": obj(map[string]string{"lock": "string", "sensor": "string", "key_set_id": "string"}),
		"KeySet": obj(map[string]string{"site_id": "string", "label": "string", "sensitive": "boolean", "pin_required": "boolean",
			"max_out_seconds": "integer"}),
		"Labels": map[string]any{"type": "object", "description": "exactly one of site_id, cabinet_id, key_set_ids", "properties": map[string]any{
			"site_id": map[string]any{"type": "string"}, "cabinet_id": map[string]any{"type": "string"},
			"key_set_ids": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"format":      map[string]any{"type": "string", "enum": []string{"pdf", "png"}, "default": "pdf"},
		}},
		"Member": map[string]any{"type": "object", "required": []string{"role"}, "properties": map[string]any{
			"name": map[string]any{"type": "string"}, "email": map[string]any{"type": "string"},
			"role":     map[string]any{"type": "string", "enum": roles},
			"site_ids": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		}},
		"MemberChange": map[string]any{"type": "object", "properties": map[string]any{
			"role":     map[string]any{"type": "string", "enum": roles},
			"site_ids": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		}},
		"EnrolToken": map[string]any{"type": "object", "properties": map[string]any{
			"ttl_hours": map[string]any{"type": "integer", "minimum": 1, "maximum": int(store.MaxEnrolTokenTTL / time.Hour)}}},
		"PIN": map[string]any{"type": "object", "required": []string{"pin"}, "properties": map[string]any{
			"pin": map[string]any{"type": "string", "pattern": fmt.Sprintf("^[0-9]{%d,%d}$", keycab.MinPIN, keycab.MaxPIN)}}},
		"Badge": map[string]any{"type": "object", "required": []string{"kind", "code"}, "properties": map[string]any{
			"kind": map[string]any{"type": "string", "enum": keycab.BadgeKinds()}, "code": map[string]any{"type": "string", "maxLength": 256}}},
		"Job": map[string]any{"type": "object", "required": []string{"member_id", "key_set_ids", "from", "until"}, "properties": map[string]any{
			"member_id": map[string]any{"type": "string"}, "descriptor": map[string]any{"type": "string"},
			"key_set_ids": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"from":        map[string]any{"type": "string", "format": "date-time"}, "until": map[string]any{"type": "string", "format": "date-time"},
		}},
		"Reservation": map[string]any{"type": "object", "required": []string{"key_set_id", "from", "until"}, "properties": map[string]any{
			"key_set_id": map[string]any{"type": "string"}, "member_id": map[string]any{"type": "string", "description": "default: oneself"},
			"from": map[string]any{"type": "string", "format": "date-time"}, "until": map[string]any{"type": "string", "format": "date-time"},
		}},
		"Error": map[string]any{"type": "object", "properties": map[string]any{"error": obj(map[string]string{"code": "string", "message": "string"})}},
	}
	errResp := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	}
	paths := map[string]any{}
	for _, rt := range s.routes() {
		op := map[string]any{
			"summary": rt.summary,
			"responses": map[string]any{
				"200": map[string]any{"description": "OK", "content": map[string]any{"application/json": map[string]any{}}},
				"400": errResp("Invalid input"), "401": errResp("Not signed in"), "403": errResp("Not allowed"),
				"404": errResp("Not found (or another organisation's)"), "429": errResp("Rate limited; see Retry-After"),
			},
		}
		if rt.method != "GET" {
			resp := op["responses"].(map[string]any)
			resp["201"] = map[string]any{"description": "Created"}
			resp["204"] = map[string]any{"description": "Done; no body"}
			resp["409"] = errResp("Conflict: in use, a cap reached, or the last owner")
		}
		if !rt.auth {
			op["security"] = []any{}
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.query {
			params = append(params, map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.raw != "" {
			op["responses"].(map[string]any)["200"] = map[string]any{"description": "OK", "content": map[string]any{rt.raw: map[string]any{}}}
		}
		if rt.body != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{
				"schema": map[string]any{"$ref": "#/components/schemas/" + rt.body}}}}
		}
		path := strings.ReplaceAll(rt.path, "...}", "}")
		item, _ := paths[path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[path] = item
		}
		item[strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": "keycab HQ API", "version": "1"},
		"paths":   paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "access_token from a sign-in"},
				"cookie": map[string]any{"type": "apiKey", "in": "cookie", "name": hq.SessionCookie},
			},
		},
		"security": []any{map[string]any{"bearer": []any{}}, map[string]any{"cookie": []any{}}},
	}
}

func (s *API) openAPI(w http.ResponseWriter, r *http.Request) {
	hq.WriteJSON(w, http.StatusOK, s.openAPIDoc())
}
