package hq

import (
	"net/http"
	"regexp"
	"strings"
)

// The OpenAPI 3.1 document is made from the route table, so it lists
// exactly the endpoints served.

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

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

func (s *Server) openAPIDoc() map[string]any {
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
			"role":     map[string]any{"type": "string", "enum": []string{"owner", "admin", "site_manager", "auditor", "staff", "contractor"}},
			"site_ids": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		}},
		"Accept": obj(map[string]string{"token": "string", "name": "string", "password": "string"}, "token"),
		"Tokens": obj(map[string]string{"access_token": "string", "refresh_token": "string", "expires_at": "string",
			"idle_timeout_seconds": "integer", "org_id": "string", "member_id": "string"}),
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
		if rt.body != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{
				"schema": map[string]any{"$ref": "#/components/schemas/" + rt.body}}}}
		}
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
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
				"cookie": map[string]any{"type": "apiKey", "in": "cookie", "name": cookieName},
			},
		},
		"security": []any{map[string]any{"bearer": []any{}}, map[string]any{"cookie": []any{}}},
	}
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.openAPIDoc())
}
