package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/centre"
)

// User is one holder of an API token. Only the SHA-256 of the token is
// kept: tokens are long random strings (NewToken), for which a fast hash
// is as safe as a slow one, and every request checks one.
type User struct {
	Name        string      `json:"name"`
	Role        centre.Role `json:"role"`
	TokenSHA256 string      `json:"token_sha256"`
	// Cases limits a case manager to these cases; empty: all.
	Cases []string `json:"cases,omitempty"`
}

// Users are the API's users, looked up by the hash of their token.
type Users struct {
	byHash map[string]*User
}

// ParseUsers reads a users file (YAML or JSON):
//
//	users:
//	  - {name: op-1, role: operator, token_sha256: "<64 hex>"}
//
// and says what is wrong with each user, by position.
func ParseUsers(data []byte) (*Users, error) {
	var f struct {
		Users []User `json:"users"`
	}
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	u := &Users{byHash: map[string]*User{}}
	names := map[string]bool{}
	var faults []string
	for i := range f.Users {
		usr := &f.Users[i]
		at := fmt.Sprintf("users[%d]", i)
		if !proxmon.ValidID(usr.Name) {
			faults = append(faults, at+".name: want 1-64 characters of [A-Za-z0-9_-]")
		} else if names[usr.Name] {
			faults = append(faults, at+".name: "+usr.Name+" appears twice")
		}
		names[usr.Name] = true
		if !usr.Role.Valid() {
			faults = append(faults, fmt.Sprintf("%s.role: %q; want one of %v", at, usr.Role, centre.Roles))
		}
		h := strings.ToLower(usr.TokenSHA256)
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			faults = append(faults, at+".token_sha256: want the 64 hex digits of SHA-256 of the token (proxmon users hash-token)")
		} else if u.byHash[h] != nil {
			faults = append(faults, at+".token_sha256: another user has this token")
		}
		u.byHash[h] = usr
	}
	if len(faults) > 0 {
		return nil, fmt.Errorf("users: %s", strings.Join(faults, "; "))
	}
	return u, nil
}

// HashToken returns the hex SHA-256 of a token, as a users file keeps it.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken returns a fresh random token (256 bits).
func NewToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return "pxm_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// user returns the user of the request's bearer token, or nil.
func (u *Users) user(r *http.Request) *User {
	if u == nil {
		return nil
	}
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || len(token) > 512 {
		return nil
	}
	return u.byHash[HashToken(strings.TrimSpace(token))]
}

// caseAllowed reports whether the user may see case c.
func (usr *User) caseAllowed(c string) bool {
	return len(usr.Cases) == 0 || slices.Contains(usr.Cases, c)
}
