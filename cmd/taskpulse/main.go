// Command taskpulse is TaskPulse's one binary: it serves every service in
// one process (the default, with an embedded bus and store) or any subset
// of them against Kafka and ClickHouse, applies store migrations, and
// generates load.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/taskpulse/taskpulse/internal/app"
	"github.com/taskpulse/taskpulse/internal/backend"
	"github.com/taskpulse/taskpulse/internal/config"
	"github.com/taskpulse/taskpulse/internal/datagen"
	"github.com/taskpulse/taskpulse/internal/querybench"
)

const usage = `usage: taskpulse [command] [flags]

commands:
  serve       run TaskPulse (the default): all services, or --services=...
  migrate     apply pending store migrations and list them
  loadgen     post progress events to a TaskPulse and print rates and latencies
  datagen     fill a store with a realistic data set of jobs, logs and metrics
  querybench  time the main queries on a store, beside the same SQL run directly
  version     print the version

Run "taskpulse COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "taskpulse:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args)
	case "migrate":
		return migrate(ctx, args)
	case "loadgen":
		return loadgen(ctx, args)
	case "datagen":
		_, err := runDatagen(ctx, args, os.Stdout)
		return err
	case "querybench":
		return runQuerybench(ctx, args, os.Stdout)
	case "version":
		fmt.Println("taskpulse", app.Version())
		return nil
	case "help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
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
	b.RegisterFlags(fs)
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
