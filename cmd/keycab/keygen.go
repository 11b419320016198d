package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

func keygenCommand() *command {
	return &command{
		name:    "keygen",
		summary: "Write a new Ed25519 signer key for a kiosk's log and print its verifier key.",
		usage:   "--out FILE [--name NAME]",
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			out := fs.String("out", "", "file to write the signer key to (mode 0600; must not exist)")
			name := fs.String("name", "", "key name, which is also the log's origin (default: keycab.kiosk/<hostname>)")
			return func(ctx context.Context, e *env, args []string) error {
				if *out == "" || len(args) > 0 {
					fs.Usage()
					return errUsage
				}
				n := *name
				if n == "" {
					host, err := os.Hostname()
					if err != nil || host == "" {
						host = "kiosk"
					}
					n = "keycab.kiosk/" + host
				}
				if strings.ContainsAny(n, "+ \t\n") {
					return fmt.Errorf("key name %q may not contain '+' or spaces", n)
				}
				skey, vkey, err := note.GenerateKey(rand.Reader, n)
				if err != nil {
					return fmt.Errorf("generate key: %w", err)
				}
				f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if errors.Is(err, os.ErrExist) {
					return fmt.Errorf("%s already exists; refusing to overwrite a key", *out)
				} else if err != nil {
					return err
				}
				if _, err := fmt.Fprintln(f, skey); err != nil {
					f.Close()
					return fmt.Errorf("write %s: %w", *out, err)
				}
				if err := f.Sync(); err != nil {
					f.Close()
					return fmt.Errorf("write %s: %w", *out, err)
				}
				if err := f.Close(); err != nil {
					return fmt.Errorf("write %s: %w", *out, err)
				}
				fmt.Fprintln(e.stdout, vkey)
				return nil
			}
		},
	}
}
