package auth

// HOTP exposes hotp to the tests (RFC test vectors use 8 digits).
var HOTP = hotp
