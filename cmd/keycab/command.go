package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// A command is one node of the keycab command tree: either a group with
// subcommands (audit, bench, hw, qr) or a leaf that runs.
type command struct {
	name    string
	summary string // one line, shown in the parent's help
	usage   string // arguments after the name, for the leaf's help
	sub     []*command
	// flags declares the leaf's flags on fs and returns the function that
	// runs it once fs has parsed the arguments.
	flags func(fs *flag.FlagSet) func(ctx context.Context, env *env, args []string) error
}

// env is what a command may touch of the outside world; tests give it
// buffers.
type env struct {
	stdout io.Writer
	stderr io.Writer
}

// errUsage reports that the arguments were wrong; the help has been printed.
var errUsage = errors.New("usage")

// exitError carries an exit code other than 1 or 2 (or a message already
// printed), for commands such as audit verify whose failure is a result.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func (c *command) find(name string) *command {
	for _, s := range c.sub {
		if s.name == name {
			return s
		}
	}
	return nil
}

// run dispatches args below c; path is the command line so far.
func (c *command) run(ctx context.Context, e *env, path string, args []string) error {
	if c.sub != nil {
		if len(args) == 0 || isHelp(args[0]) {
			c.printGroupHelp(e.stdout, path)
			if len(args) == 0 {
				return errUsage
			}
			return nil
		}
		s := c.find(args[0])
		if s == nil {
			fmt.Fprintf(e.stderr, "%s: unknown command %q\n", path, args[0])
			c.printGroupHelp(e.stderr, path)
			return errUsage
		}
		return s.run(ctx, e, path+" "+s.name, args[1:])
	}
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	runFn := c.flags(fs)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: %s %s\n\n%s\n", path, c.usage, c.summary)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintf(w, "\nflags:\n")
			fs.PrintDefaults()
		}
	}
	if err := fs.Parse(interleave(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return nil
		}
		return errUsage
	}
	return runFn(ctx, e, fs.Args())
}

func (c *command) printGroupHelp(w io.Writer, path string) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\n", path)
	if c.summary != "" {
		fmt.Fprintf(w, "%s\n\n", c.summary)
	}
	fmt.Fprintf(w, "commands:\n")
	subs := append([]*command(nil), c.sub...)
	sort.Slice(subs, func(i, j int) bool { return subs[i].name < subs[j].name })
	for _, s := range subs {
		fmt.Fprintf(w, "  %-10s %s\n", s.name, s.summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> --help' for a command's flags.\n", path)
}

func isHelp(a string) bool {
	return a == "-h" || a == "--help" || a == "-help" || a == "help"
}

// interleave moves flags that follow positional arguments in front of them,
// so "qr decode a.png --json" parses like "qr decode --json a.png". A lone
// "--" still ends the flags.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, pos...)
}
