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
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
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
		return datagen(ctx, args)
	case "querybench":
		return querybench(ctx, args)
	case "version":
		fmt.Println("taskpulse", version())
		return nil
	case "help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func version() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}
