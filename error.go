package keycab

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
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
func BodyOf(err error) ErrorBody { return BodyIn(err, "en") }

// BodyIn returns the ErrorBody of err with its message in lang
// (ErrorMessageIn); the code is the same in every language.
func BodyIn(err error, lang string) ErrorBody {
	return ErrorBody{Error: ErrorDetail{Code: ErrorCode(err), Message: ErrorMessageIn(err, lang)}}
}

// Error is an application error: a code from the list above and a message
// fit to show to the person who caused it. Wrap it with %w to add the
// operation; ErrorCode and ErrorMessage see through the wrapping.
//
// Message is English. An Error made by Errorf keeps its format and
// arguments too, so that ErrorMessageIn can say it in the reader's
// language (see ErrorCatalogue).
type Error struct {
	Code    string
	Message string

	format string
	args   []any
}

func (e *Error) Error() string {
	return fmt.Sprintf("keycab error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with code and a formatted message. An argument
// that is an error holding an *Error is said by its message (in the
// reader's language with ErrorMessageIn), not by its Error string.
func Errorf(code, format string, args ...any) *Error {
	e := &Error{Code: code, format: format, args: args}
	e.Message = e.say("en", format)
	return e
}

// say formats e with format, its error arguments in lang.
func (e *Error) say(lang, format string) string {
	args := make([]any, len(e.args))
	for i, a := range e.args {
		args[i] = a
		if err, ok := a.(error); ok {
			var inner *Error
			if errors.As(err, &inner) {
				args[i] = ErrorMessageIn(err, lang)
			}
		}
	}
	return fmt.Sprintf(format, args...)
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

// internalMessage is what ErrorMessage says of an error that is not an
// *Error.
const internalMessage = "Internal error."

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
	return internalMessage
}

// ErrorMessageIn is ErrorMessage said in lang, a catalogue language or a
// locale tag ("de", "de-AT", "en-GB"): the error's format looked up in
// lang's error catalogue and filled with its arguments. English, a
// language with no catalogue and a format the catalogue lacks (a bare
// "%s" or "%v"; TestErrorCatalogueComplete keeps any other from
// happening) give the English format, its error arguments still said in
// lang; an *Error not made by Errorf gives its Message.
func ErrorMessageIn(err error, lang string) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case !errors.As(err, &e):
		if f, ok := errorCatalogue(lang)[internalMessage]; ok {
			return f
		}
		return internalMessage
	case e.format == "":
		return e.Message
	}
	if f, ok := errorCatalogue(lang)[e.format]; ok {
		return e.say(lang, f)
	}
	return e.say(lang, e.format) // "%v" of an error, say, in lang
}

// ErrorCatalogue holds the error messages' translations, gettext's way:
// messages/errors/LANG.json maps each English format that Errorf is given
// (the id) to its format in LANG, with the same verbs for the same
// arguments (explicit indexes, %[2]s, where the word order differs).
// English needs no file. TestErrorCatalogueComplete reads the source for
// every Errorf and fails on a format a catalogue lacks, a stale entry or
// verbs that differ.
//
//go:embed messages/errors/*.json
var ErrorCatalogue embed.FS

var errorCatalogues sync.Map // language -> map[string]string

// errorCatalogue returns the error catalogue of lang's language, or nil.
func errorCatalogue(lang string) map[string]string {
	base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(lang)), "-")
	if base == "" || base == "en" || strings.ContainsAny(base, "./\\") {
		return nil
	}
	if m, ok := errorCatalogues.Load(base); ok {
		return m.(map[string]string)
	}
	var m map[string]string
	if b, err := ErrorCatalogue.ReadFile("messages/errors/" + base + ".json"); err == nil {
		if err := json.Unmarshal(b, &m); err != nil {
			panic("keycab: messages/errors/" + base + ".json: " + err.Error()) // embedded: a test catches it first
		}
	}
	errorCatalogues.Store(base, m)
	return m
}
