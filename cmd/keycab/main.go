// Command keycab is the pure-Go keycab tool: it makes signer keys, verifies,
// shows, proves and exports a kiosk's audit log, tests cabinet hardware,
// makes and decodes QR labels, and benchmarks. It builds with CGO_ENABLED=0.
//
// Run "keycab --help" for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	// keycab is a batch tool whose live heap stays small while it streams
	// through a log allocating a few hundred bytes per entry; at the
	// default GOGC the collector then runs so often that it costs a third
	// of a verify. A larger target trades a few MiB for that time.
	debug.SetGCPercent(400)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, &env{stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

// Main runs the keycab tool with args and returns the process exit code:
// 0 on success, 1 on failure, 2 on a usage error.
func Main(ctx context.Context, e *env, args []string) int {
	err := root().run(ctx, e, "keycab", args)
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintf(e.stderr, "keycab: %s\n", ee.msg)
		}
		return ee.code
	default:
		fmt.Fprintf(e.stderr, "keycab: %v\n", err)
		return 1
	}
}

func root() *command {
	return &command{
		name:    "keycab",
		summary: "keycab is the key-cabinet tool: audit logs, keys, hardware tests, QR labels, benchmarks.",
		sub: []*command{
			keygenCommand(),
			auditCommand(),
			benchCommand(),
			demoCommand(),
			hwCommand(),
			qrCommand(),
		},
	}
}
