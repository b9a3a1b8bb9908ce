// Command taskpulse is TaskPulse's one binary: it serves every service in
// one process (the default, with an embedded bus and store) or any subset
// of them against Kafka and ClickHouse, applies store migrations, follows
// a live stream, and generates load and data.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/fasthttp/websocket"

	"github.com/taskpulse/taskpulse/internal/app"
	"github.com/taskpulse/taskpulse/internal/backend"
	"github.com/taskpulse/taskpulse/internal/config"
	"github.com/taskpulse/taskpulse/internal/datagen"
	"github.com/taskpulse/taskpulse/internal/querybench"
)

// command is one subcommand: its name, what it does, and how it runs.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string) error
}

// commands are listed by --help in this order; serve runs when none is
// named.
var commands = []command{
	{"serve", "run TaskPulse (the default): all services, or --services=...", serve},
	{"migrate", "apply pending store migrations and list them", migrate},
	{"watch", "print each message of a WebSocket subscription (watch ws://...), one a line", watch},
	{"loadgen", "send progress events to a TaskPulse through the Go client and print rates and latencies", loadgen},
	{"datagen", "fill a store with a realistic data set of jobs, logs and metrics", func(ctx context.Context, args []string) error {
		_, err := runDatagen(ctx, args, os.Stdout)
		return err
	}},
	{"querybench", "time the main queries on a store, beside the same SQL run directly", func(ctx context.Context, args []string) error {
		return runQuerybench(ctx, args, os.Stdout)
	}},
	{"version", "print the version", func(context.Context, []string) error {
		fmt.Println("taskpulse", app.Version())
		return nil
	}},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := exitCode(run(ctx, os.Args[1:]), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitCode tells the user how a run ended: help on stdout and 0; a
// command line that cannot be parsed in one line and 2, with where to
// look; any other error on stderr and 1.
func exitCode(err error, stdout, stderr io.Writer) int {
	var help *config.HelpRequest
	var bad *config.UsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help):
		printHelp(stdout, help.Flags)
		return 0
	case errors.As(err, &bad):
		cmd := strings.TrimSpace("taskpulse " + bad.Command)
		fmt.Fprintf(stderr, "%s: %v\nRun \"%s --help\" for help.\n", cmd, bad.Err, cmd)
		return 2
	}
	fmt.Fprintln(stderr, "taskpulse:", err)
	return 1
}

func run(ctx context.Context, args []string) error {
	if len(args) == 1 && slices.Contains([]string{"help", "-h", "-help", "--help"}, args[0]) {
		return &config.HelpRequest{}
	}
	name := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(ctx, args)
		}
	}
	return &config.UsageError{Err: fmt.Errorf("unknown command %q", name)}
}

// printHelp prints a command's flags, or with none the commands.
func printHelp(w io.Writer, fs *flag.FlagSet) {
	if fs == nil {
		fmt.Fprint(w, "usage: taskpulse [command] [flags]\n\ncommands:\n")
		for _, c := range commands {
			fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
		}
		fmt.Fprint(w, "\nRun \"taskpulse COMMAND --help\" for a command's flags.\n")
		return
	}
	for _, c := range commands {
		if c.name == fs.Name() {
			fmt.Fprintf(w, "usage: taskpulse %s [flags]\n\n%s\n\nflags:\n", c.name, c.summary)
		}
	}
	config.PrintFlags(w, fs)
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var s app.Settings
	s.RegisterFlags(fs)
	if err := s.Parse(fs, args); err != nil {
		return err
	}
	return app.Serve(ctx, &s)
}

// migrate applies the store's pending migrations and lists them. Serving
// applies them too; this is for applying them ahead of a rollout, or after
// a ClickHouse upgrade makes tuning migrations possible.
func migrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./data", "directory of the DuckDB store")
	fs.String("config", "", "YAML file of settings, keyed by flag name")
	var b backend.Flags
	b.RegisterStoreFlags(fs)
	if err := config.Parse(fs, args, "config"); err != nil {
		return err
	}
	if err := b.Validate(); err != nil {
		return err
	}
	lines, err := backend.Migrate(ctx, &b, *dataDir)
	for _, line := range lines {
		fmt.Println(line)
	}
	return err
}

func runDatagen(ctx context.Context, args []string, out io.Writer) (datagen.Counts, error) {
	fs := flag.NewFlagSet("datagen", flag.ContinueOnError)
	var c datagen.Config
	c.RegisterFlags(fs)
	if err := parse(fs, args, c.Validate); err != nil {
		return datagen.Counts{}, err
	}
	return datagen.Run(ctx, c, out)
}

func runQuerybench(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("querybench", flag.ContinueOnError)
	var c querybench.Config
	c.RegisterFlags(fs)
	if err := parse(fs, args, c.Validate); err != nil {
		return err
	}
	return querybench.Run(ctx, c, out)
}

// parse reads args and the environment into fs, then validates.
func parse(fs *flag.FlagSet, args []string, validate func() error) error {
	if err := config.Parse(fs, args, ""); err != nil {
		return err
	}
	return validate()
}

// watch prints the messages of one WebSocket subscription as they come,
// one JSON message a line, so that the stream can be tried with nothing
// but the binary (curl speaks no WebSocket, and browsers' consoles are
// not scripts).
func watch(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	apiKey := fs.String("api-key", "", "API key to send")
	messages := fs.Int("messages", 0, "stop after this many messages (default: until the server closes or Ctrl-C)")
	timeout := fs.Duration("timeout", 0, "stop with an error when the messages have not all come within this long (default: no limit)")
	if err := config.Parse(fs, args, ""); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &config.UsageError{Command: "watch", Err: errors.New("want one URL, such as ws://127.0.0.1:8080/v1/stream?task_id=skill-42")}
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	header := http.Header{}
	if *apiKey != "" {
		header.Set("Authorization", "Bearer "+*apiKey)
	}
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, fs.Arg(0), header)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			return fmt.Errorf("connect %s: %s %s", fs.Arg(0), resp.Status, body)
		}
		return fmt.Errorf("connect %s: %w", fs.Arg(0), err)
	}
	defer conn.Close()
	// Reading blocks until a message or the connection closes; closing it
	// when ctx ends is what stops a read that waits.
	stopRead := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopRead()
	for n := 0; *messages == 0 || n < *messages; n++ {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			switch {
			case errors.Is(ctx.Err(), context.DeadlineExceeded):
				return fmt.Errorf("%d of %d messages came within %s", n, *messages, *timeout)
			case ctx.Err() != nil, websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway):
				return nil // stopped by Ctrl-C, or by the server
			}
			return fmt.Errorf("read: %w", err)
		}
		fmt.Printf("%s\n", msg)
	}
	return nil
}
