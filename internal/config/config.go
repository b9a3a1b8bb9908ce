// Package config fills a flag set from, in order of precedence, the command
// line, TASKPULSE_* environment variables and an optional YAML file. Every
// setting is a flag, so one name ("kafka-brokers") works in all three
// places: --kafka-brokers, TASKPULSE_KAFKA_BROKERS, kafka-brokers: in YAML.
package config

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// EnvName is the environment variable of a flag: kafka-brokers ->
// TASKPULSE_KAFKA_BROKERS.
func EnvName(flagName string) string {
	return "TASKPULSE_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(flagName))
}

// Parse parses args into fs, then sets every flag the command line left
// alone from the environment, then from the YAML file named by the flag
// configFlag (if fs has it and it is set).
func Parse(fs *flag.FlagSet, args []string, configFlag string) error {
	if err := fs.Parse(args); err != nil {
		return err
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
