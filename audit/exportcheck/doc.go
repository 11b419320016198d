// Package exportcheck holds no code, only a test: it proves that
// "keycab audit export" writes a C2SP tlog-tiles directory that any
// standard verifier can check.
//
// The test builds cmd/keycab, fills a database with "keycab bench audit"
// (257,000 entries, enough for level-2 hash tiles and for tile paths of
// the x-prefixed form such as tile/0/x001/000; 70,000 with -short), runs
// "keycab audit export" and checks the directory with a verifier of its
// own, written from the C2SP tlog-tiles and tlog-checkpoint specifications
// with only the standard library and golang.org/x/mod/sumdb/note and
// golang.org/x/mod/sumdb/tlog. It opens the signed checkpoint with the
// verifier key the export printed, authenticates the hash tiles against
// the checkpoint's root, checks every entry of every entry bundle against
// the tiles, proves a sample of entries with inclusion proofs, and
// recomputes the root from the entry bytes alone. It then damages copies
// of the directory (an entry byte, a hash tile byte, the signature, the
// last partial bundle) and expects each to be rejected.
//
// So that it stays independent, the test imports no keycab.dev package,
// and fails if one of its files does.
//
//	go test ./audit/exportcheck
package exportcheck
