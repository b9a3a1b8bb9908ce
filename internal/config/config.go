// Package config fills a flag set from, in order of precedence, the command
// line, TASKPULSE_* environment variables and an optional YAML file. Every
// setting is a flag, so one name ("kafka-brokers") works in all three
// places: --kafka-brokers, TASKPULSE_KAFKA_BROKERS, kafka-brokers: in YAML.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// EnvName is the environment variable of a flag: kafka-brokers ->
// TASKPULSE_KAFKA_BROKERS.
func EnvName(flagName string) string {
	return "TASKPULSE_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(flagName))
}

// HelpRequest is what Parse returns for -h or --help: the caller prints
// the flags of Flags where the user asked for them, and succeeds.
type HelpRequest struct{ Flags *flag.FlagSet }

func (h *HelpRequest) Error() string { return "help requested" }

func (h *HelpRequest) Unwrap() error { return flag.ErrHelp }

// UsageError is a command line the flag set cannot parse: a flag it does
// not define, or a value the flag refuses. The caller names it in one
// line rather than printing every flag.
type UsageError struct {
	Command string // the flag set's name
	Err     error
}

func (e *UsageError) Error() string { return e.Err.Error() }

func (e *UsageError) Unwrap() error { return e.Err }

// Parse parses args into fs, then sets every flag the command line left
// alone from the environment, then from the YAML file named by the flag
// configFlag (if fs has it and it is set). The flag set prints nothing:
// help and mistakes come back as a *HelpRequest and a *UsageError.
func Parse(fs *flag.FlagSet, args []string, configFlag string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &HelpRequest{Flags: fs}
		}
		return &UsageError{Command: fs.Name(), Err: err}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := os.LookupEnv(EnvName(f.Name)); ok && !set[f.Name] && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("environment %s: %w", EnvName(f.Name), e)
			}
			set[f.Name] = true
		}
	})
	if err != nil {
		return err
	}
	cf := fs.Lookup(configFlag)
	if cf == nil || cf.Value.String() == "" {
		return nil
	}
	return applyFile(fs, cf.Value.String(), set)
}

func applyFile(fs *flag.FlagSet, path string, set map[string]bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config file: %w", err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(b, &values); err != nil {
		return fmt.Errorf("parse config file %s: %w", path, err)
	}
	for name, v := range values {
		if fs.Lookup(name) == nil {
			return fmt.Errorf("config file %s: unknown setting %q", path, name)
		}
		if set[name] {
			continue
		}
		if err := fs.Set(name, yamlString(v)); err != nil {
			return fmt.Errorf("config file %s: %s: %w", path, name, err)
		}
	}
	return nil
}

// yamlString turns a YAML value into flag syntax; lists become comma lists.
func yamlString(v any) string {
	switch v := v.(type) {
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = yamlString(e)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		parts := make([]string, 0, len(v))
		for k, e := range v {
			parts = append(parts, k+"="+yamlString(e))
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

// PrintFlags writes fs's flags to w as the flag package words them, and
// how the environment sets them.
func PrintFlags(w io.Writer, fs *flag.FlagSet) {
	fs.SetOutput(w)
	defer fs.SetOutput(io.Discard)
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nEvery flag can also be set in the environment as TASKPULSE_<FLAG>, dashes as underscores.")
}
