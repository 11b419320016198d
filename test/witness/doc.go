// Package witness pins the transparency-dev witness (cmd/omniwitness) that
// keycab's tests run as an external C2SP tlog-witness, in a module of its
// own so that keycab's go.mod stays free of it: test/e2e builds the tool
// with `go build` in this directory (TestWitness).
package witness
