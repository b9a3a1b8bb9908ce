// Command gen writes TaskPulse's Grafana dashboards, built in package
// grafana, as the JSON files Grafana provisions:
//
//	go run ./grafana/gen            # into grafana/dashboards
//	go run ./grafana/gen -out DIR
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/taskpulse/taskpulse/grafana"
)

func main() {
	out := flag.String("out", filepath.Join("grafana", "dashboards"), "directory to write the dashboards to")
	flag.Parse()
	if err := write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range grafana.All {
		raw, err := d.JSON()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, d.File), raw, 0o644); err != nil {
			return err
		}
	}
	return nil
}
