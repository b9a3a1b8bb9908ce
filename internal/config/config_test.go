package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParsePrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "taskpulse.yaml")
	require.NoError(t, os.WriteFile(file, []byte("listen: file:1\ndata-dir: /from/file\nservices: [ingest, query]\n"), 0o600))
	t.Setenv("TASKPULSE_DATA_DIR", "/from/env")

	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("config", "", "")
	listen := fs.String("listen", "default:1", "")
	dataDir := fs.String("data-dir", "default", "")
	services := fs.String("services", "all", "")
	keep := fs.String("keep", "default", "")
	require.NoError(t, Parse(fs, []string{"--config", file, "--listen", "flag:1"}, "config"))
	require.Equal(t, "flag:1", *listen, "flags win")
	require.Equal(t, "/from/env", *dataDir, "environment beats the file")
	require.Equal(t, "ingest,query", *services, "YAML lists become comma lists")
	require.Equal(t, "default", *keep)
}

func TestParseRejectsUnknownFileSettingsAndBadEnv(t *testing.T) {
	file := filepath.Join(t.TempDir(), "taskpulse.yaml")
	require.NoError(t, os.WriteFile(file, []byte("lisen: x\n"), 0o600))
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("config", "", "")
	fs.String("listen", "", "")
	require.ErrorContains(t, Parse(fs, []string{"--config", file}, "config"), `unknown setting "lisen"`)

	t.Setenv("TASKPULSE_BATCH", "many")
	fs = flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Int("batch", 1, "")
	require.ErrorContains(t, Parse(fs, nil, "config"), "TASKPULSE_BATCH")
}

func TestEnvName(t *testing.T) {
	require.Equal(t, "TASKPULSE_KAFKA_BROKERS", EnvName("kafka-brokers"))
}

// Help and mistakes come back as values for the caller to word; the flag
// set itself prints nothing.
func TestParseHelpAndMistakes(t *testing.T) {
	var printed strings.Builder
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(&printed)
	fs.String("listen", "", "")
	fs.Int("batch", 1, "")

	var help *HelpRequest
	require.ErrorAs(t, Parse(fs, []string{"--help"}, ""), &help)
	require.Same(t, fs, help.Flags)

	var bad *UsageError
	require.ErrorAs(t, Parse(fs, []string{"--lisen", "x"}, ""), &bad)
	require.Equal(t, "serve", bad.Command)
	require.EqualError(t, bad, "flag provided but not defined: -lisen")
	require.ErrorAs(t, Parse(fs, []string{"--batch", "many"}, ""), &bad)
	require.Empty(t, printed.String())

	PrintFlags(&printed, fs)
	require.Contains(t, printed.String(), "-listen")
	require.Contains(t, printed.String(), "TASKPULSE_")
}
