// Command oidcprovider is a real OpenID Connect provider for HQ's tests
// (github.com/oauth2-proxy/mockoidc: discovery, authorization with PKCE,
// token, userinfo and JWKS endpoints, RS256-signed ID tokens), run as
// its own process on loopback. It prints "ISSUER <url>" once it listens.
//
// POST /control (JSON) sets who the next authorization signs in and how
// the next ID token is spoiled, for the attack cases:
//
//	{"user": {"sub": "...", "email": "...", "email_verified": true, "groups": ["..."]},
//	 "spoil": "" | "forge" | "audience" | "expired"}
//
// forge signs the token with another key (under the real key's id),
// audience names another client, expired makes it an hour old.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
)

type control struct {
	User *struct {
		Sub           string   `json:"sub"`
		Email         string   `json:"email"`
		EmailVerified bool     `json:"email_verified"`
		Groups        []string `json:"groups"`
	} `json:"user"`
	Spoil string `json:"spoil"`
}

func main() {
	clientID := flag.String("client-id", "keycab-test", "the client id HQ is registered with")
	secret := flag.String("client-secret", "keycab-test-secret", "its secret")
	flag.Parse()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		log.Fatal(err)
	}
	m.ClientID, m.ClientSecret = *clientID, *secret
	m.CodeChallengeMethodsSupported = []string{"S256"}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	spoil := ""

	mux := http.NewServeMux()
	mux.HandleFunc(mockoidc.AuthorizationEndpoint, m.Authorize)
	mux.HandleFunc(mockoidc.UserinfoEndpoint, m.Userinfo)
	mux.HandleFunc(mockoidc.JWKSEndpoint, m.JWKS)
	mux.HandleFunc(mockoidc.DiscoveryEndpoint, m.Discovery)
	mux.HandleFunc(mockoidc.TokenEndpoint, func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		m.Token(rec, r)
		mu.Lock()
		how := ""
		if rec.Code == http.StatusOK { // a refused try (x/oauth2 probing how to send the secret) spoils nothing
			how, spoil = spoil, ""
		}
		mu.Unlock()
		body := rec.Body.Bytes()
		if how != "" && rec.Code == http.StatusOK {
			body, err = spoilToken(body, how, m, other)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
	mux.HandleFunc("POST /control", func(w http.ResponseWriter, r *http.Request) {
		var c control
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if c.User != nil {
			m.QueueUser(&mockoidc.MockUser{Subject: c.User.Sub, Email: c.User.Email, EmailVerified: c.User.EmailVerified,
				PreferredUsername: c.User.Sub, Groups: c.User.Groups})
		}
		mu.Lock()
		spoil = c.Spoil
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	m.Server = &http.Server{Addr: ln.Addr().String(), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stdout, "ISSUER %s\n", m.Issuer())
	log.Fatal(m.Server.Serve(ln))
}

// spoilToken rewrites the token response's ID token as how says.
func spoilToken(body []byte, how string, m *mockoidc.MockOIDC, other *rsa.PrivateKey) ([]byte, error) {
	var resp map[string]any
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, err
	}
	raw, _ := resp["id_token"].(string)
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(raw, claims); err != nil {
		return nil, err
	}
	var signed string
	var err error
	switch how {
	case "forge":
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		kid, _ := m.Keypair.KeyID()
		tok.Header["kid"] = kid
		signed, err = tok.SignedString(other)
	case "audience":
		claims["aud"] = []string{"another-client"}
		signed, err = m.Keypair.SignJWT(claims)
	case "expired":
		now := time.Now()
		claims["iat"], claims["nbf"], claims["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		signed, err = m.Keypair.SignJWT(claims)
	default:
		return nil, fmt.Errorf("unknown spoil %q", how)
	}
	if err != nil {
		return nil, err
	}
	resp["id_token"] = signed
	var out bytes.Buffer
	err = json.NewEncoder(&out).Encode(resp)
	return out.Bytes(), err
}
