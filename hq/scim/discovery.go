package scim

import (
	"net/http"
	"strings"
)

// The discovery endpoints (RFC 7644 4): what this service provider
// does, its resource types and their schemas.

type supported struct {
	Supported bool `json:"supported"`
}

func serviceProviderConfig(base string) map[string]any {
	return map[string]any{
		"schemas":          []string{schemaSPC},
		"documentationUri": "https://keycab.dev/docs/OPERATIONS.md#scim-provisioning",
		"patch":            supported{true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": maxResults},
		"changePassword":   supported{false},
		"sort":             supported{false},
		"etag":             supported{false},
		"authenticationSchemes": []map[string]any{{
			"type": "oauthbearertoken", "name": "SCIM token", "primary": true,
			"description": "The organisation's SCIM token (kcs_...), made by an owner or admin in the dashboard's settings, sent as Authorization: Bearer",
		}},
		"meta": Meta{ResourceType: "ServiceProviderConfig", Location: base + "ServiceProviderConfig"},
	}
}

func resourceTypes(base string) []map[string]any {
	rt := func(name, endpoint, schema string) map[string]any {
		return map[string]any{"schemas": []string{schemaResType}, "id": name, "name": name, "endpoint": endpoint,
			"description": name, "schema": schema, "meta": Meta{ResourceType: "ResourceType", Location: base + "ResourceTypes/" + name}}
	}
	return []map[string]any{rt("User", "/Users", SchemaUser), rt("Group", "/Groups", SchemaGroup)}
}

type attribute struct {
	Name          string      `json:"name"`
	Type          string      `json:"type"`
	MultiValued   bool        `json:"multiValued"`
	Description   string      `json:"description,omitempty"`
	Required      bool        `json:"required"`
	CaseExact     bool        `json:"caseExact"`
	Mutability    string      `json:"mutability"`
	Returned      string      `json:"returned"`
	Uniqueness    string      `json:"uniqueness"`
	SubAttributes []attribute `json:"subAttributes,omitempty"`
}

func attr(name, typ, desc string) attribute {
	return attribute{Name: name, Type: typ, Description: desc, Mutability: "readWrite", Returned: "default", Uniqueness: "none"}
}

func schemas(base string) []map[string]any {
	userName := attr("userName", "string", "Unique in the organisation, case-insensitively")
	userName.Required, userName.Uniqueness = true, "server"
	name := attr("name", "complex", "keycab keeps one name: formatted, or givenName and familyName joined")
	name.SubAttributes = []attribute{attr("formatted", "string", ""), attr("givenName", "string", ""), attr("familyName", "string", "")}
	emails := attr("emails", "complex", "keycab keeps one address: the primary one, or the first")
	emails.MultiValued = true
	emails.SubAttributes = []attribute{attr("value", "string", ""), attr("type", "string", ""), attr("primary", "boolean", "")}
	groups := attr("groups", "complex", "The member groups the user is in; changed on Groups")
	groups.MultiValued, groups.Mutability = true, "readOnly"
	groups.SubAttributes = []attribute{attr("value", "string", ""), attr("$ref", "reference", ""), attr("display", "string", "")}
	members := attr("members", "complex", "The users in the group")
	members.MultiValued = true
	members.SubAttributes = []attribute{attr("value", "string", ""), attr("$ref", "reference", ""), attr("type", "string", "")}
	displayName := attr("displayName", "string", "")
	groupName := attr("displayName", "string", "Unique among the organisation's member groups")
	groupName.Required = true
	active := attr("active", "boolean", "false disables the member: refused at every kiosk within seconds")
	sc := func(id, name string, attrs []attribute) map[string]any {
		return map[string]any{"schemas": []string{schemaSchema}, "id": id, "name": name, "description": name, "attributes": attrs,
			"meta": Meta{ResourceType: "Schema", Location: base + "Schemas/" + id}}
	}
	return []map[string]any{
		sc(SchemaUser, "User", []attribute{userName, name, displayName, emails, active, groups}),
		sc(SchemaGroup, "Group", []attribute{groupName, members}),
	}
}

// oneOf returns the item of all whose id is id.
func oneOf(all []map[string]any, id string) (any, error) {
	for _, v := range all {
		if s, _ := v["id"].(string); strings.EqualFold(s, id) {
			return v, nil
		}
	}
	return nil, errorf(http.StatusNotFound, "", "no %q", id)
}
