package report

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
)

// UnsubscribeQuery is the query of a report mail's unsubscribe link
// (/unsubscribe?...): the organisation, the subscription and a MAC over
// both under key (HQ's dashboard key), so the link works without a
// sign-in and for that subscription only.
func UnsubscribeQuery(key []byte, orgID, id string) string {
	return url.Values{"o": {orgID}, "s": {id}, "t": {unsubscribeMAC(key, orgID, id)}}.Encode()
}

// CheckUnsubscribe reports whether q is an unsubscribe link made with key,
// and for which organisation and subscription.
func CheckUnsubscribe(key []byte, q url.Values) (orgID, id string, ok bool) {
	orgID, id = q.Get("o"), q.Get("s")
	if orgID == "" || id == "" || len(key) == 0 {
		return "", "", false
	}
	want := unsubscribeMAC(key, orgID, id)
	return orgID, id, hmac.Equal([]byte(want), []byte(q.Get("t")))
}

func unsubscribeMAC(key []byte, orgID, id string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("keycab report unsubscribe v1\x00" + orgID + "\x00" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}
