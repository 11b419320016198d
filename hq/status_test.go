package hq_test

import (
	"net/http"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
)

// TestStatusOf: the one mapping of every edge answers no client error
// with a 5xx; only HQ's own failures and refusals to try are.
func TestStatusOf(t *testing.T) {
	for code, want := range map[string]int{
		keycab.EINVALID:        http.StatusBadRequest,
		keycab.EUNAUTHORIZED:   http.StatusUnauthorized,
		keycab.EFORBIDDEN:      http.StatusForbidden,
		keycab.ENOTFOUND:       http.StatusNotFound,
		keycab.ECONFLICT:       http.StatusConflict,
		keycab.ECAPACITY:       http.StatusConflict,
		keycab.ETOOLARGE:       http.StatusRequestEntityTooLarge,
		keycab.ETAMPERED:       http.StatusUnprocessableEntity,
		keycab.ELOCKED:         http.StatusTooManyRequests,
		keycab.EUNAVAILABLE:    http.StatusServiceUnavailable,
		keycab.ENOTIMPLEMENTED: http.StatusNotImplemented,
		keycab.EINTERNAL:       http.StatusInternalServerError,
		"no such code":         http.StatusInternalServerError,
	} {
		if got := hq.StatusOf(code); got != want {
			t.Errorf("StatusOf(%q) = %d, want %d", code, got, want)
		}
	}
}
