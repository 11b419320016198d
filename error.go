package keycab

import (
	"errors"
	"fmt"
)

// Error codes shared by the kiosk and HQ. They are mapped to HTTP status
// codes or on-screen text only at the edges (hq's HTTP layer, kiosk/ui).
const (
	ECONFLICT       = "conflict"        // the request conflicts with current state
	EINTERNAL       = "internal"        // a bug or an outside failure
	EINVALID        = "invalid"         // the input is malformed or breaks a rule
	ENOTFOUND       = "not_found"       // no such thing (or not yours to see)
	EUNAUTHORIZED   = "unauthorized"    // not identified
	EFORBIDDEN      = "forbidden"       // identified, but not allowed
	ELOCKED         = "locked"          // locked out after failed attempts
	ETAMPERED       = "tampered"        // evidence fails to verify
	ECAPACITY       = "capacity"        // a per-organisation cap is reached
	EUNAVAILABLE    = "unavailable"     // temporarily unavailable; try again
	ENOTIMPLEMENTED = "not_implemented" // not supported by this build or device
	ETOOLARGE       = "too_large"       // the request is larger than allowed
)

// ErrorBody is the JSON body of every error HQ answers, on each of its
// edges (the JSON API, the dashboard's answers to non-browsers, the kiosk
// API):
//
//	{"error": {"code": "invalid", "message": "..."}}
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is an ErrorBody's error: a code from the list above and
// the message ErrorMessage gives.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// BodyOf returns the ErrorBody of err.
func BodyOf(err error) ErrorBody {
	return ErrorBody{Error: ErrorDetail{Code: ErrorCode(err), Message: ErrorMessage(err)}}
}

// Error is an application error: a code from the list above and a message
// fit to show to the person who caused it. Wrap it with %w to add the
// operation; ErrorCode and ErrorMessage see through the wrapping.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("keycab error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or
// "Internal error." for any other non-nil error, so that details of an
// unexpected failure never reach a screen or a response.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
