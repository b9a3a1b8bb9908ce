// Package deploy_test checks the deployment files that cannot run here:
// docker compose needs a Docker engine, so the compose file is parsed and
// every file it refers to must exist.
package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

type composeFile struct {
	Services map[string]struct {
		Image string `yaml:"image"`
		Build *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		Command     []string          `yaml:"command"`
		Volumes     []string          `yaml:"volumes"`
		Healthcheck *struct{}         `yaml:"healthcheck"`
		Environment map[string]string `yaml:"environment"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func TestComposeFileRefersToFilesThatExist(t *testing.T) {
	root := ".."
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	require.NoError(t, err)
	var c composeFile
	require.NoError(t, yaml.Unmarshal(raw, &c))

	for _, name := range []string{"kafka", "clickhouse", "grafana", "ingest", "writer", "query", "stream"} {
		require.Contains(t, c.Services, name)
	}
	for _, name := range []string{"kafka", "clickhouse", "grafana"} {
		require.NotNil(t, c.Services[name].Healthcheck, "%s has a health check", name)
	}
	for name, svc := range c.Services {
		require.True(t, svc.Image != "" || svc.Build != nil, "%s has an image or a build", name)
		if svc.Build != nil {
			require.FileExists(t, filepath.Join(root, svc.Build.Context, svc.Build.Dockerfile), name)
		}
		for _, v := range svc.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				_, err := os.Stat(filepath.Join(root, src))
				require.NoError(t, err, "%s mounts %s", name, src)
			} else {
				require.Contains(t, c.Volumes, src, "%s uses a declared volume", name)
			}
		}
		if svc.Environment["TASKPULSE_BUS"] != "" {
			require.Equal(t, "kafka", svc.Environment["TASKPULSE_BUS"], name)
			require.Equal(t, "clickhouse", svc.Environment["TASKPULSE_STORE"], name)
		}
	}
	for _, svc := range []string{"ingest", "writer", "query", "stream"} {
		require.Equal(t, []string{"serve", "--services=" + svc}, c.Services[svc].Command)
	}
}

func TestGrafanaDashboardsAreValidJSON(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "grafana", "dashboards", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		var d struct {
			UID    string `json:"uid"`
			Panels []struct {
				Targets []struct {
					RawSQL string `json:"rawSql"`
				} `json:"targets"`
			} `json:"panels"`
		}
		require.NoError(t, json.Unmarshal(raw, &d), f)
		require.NotEmpty(t, d.UID, f)
		for _, p := range d.Panels {
			for _, target := range p.Targets {
				require.Contains(t, target.RawSQL, "FROM", f)
			}
		}
	}
}
