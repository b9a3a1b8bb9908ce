// Package deploy_test checks the deployment files that cannot run here:
// docker compose needs a Docker engine, so the compose file is parsed and
// every file it refers to must exist.
package deploy_test

import (
	"encoding/json"
	"net"
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

	for _, name := range []string{"kafka", "clickhouse", "grafana", "prometheus", "ingest", "writer", "query", "stream"} {
		require.Contains(t, c.Services, name)
	}
	for _, name := range []string{"kafka", "clickhouse", "grafana", "prometheus"} {
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

// TestPrometheusScrapesEveryTaskPulseProcess holds the Prometheus config
// that compose mounts to the services: every service that runs `taskpulse
// serve` is scraped on the port it listens on, so the pipeline dashboard
// sees all of them.
func TestPrometheusScrapesEveryTaskPulseProcess(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "docker-compose.yml"))
	require.NoError(t, err)
	var c composeFile
	require.NoError(t, yaml.Unmarshal(raw, &c))

	const config = "./grafana/prometheus/prometheus.yml"
	require.Contains(t, c.Services["prometheus"].Volumes, config+":/etc/prometheus/prometheus.yml:ro")
	raw, err = os.ReadFile(filepath.Join("..", config))
	require.NoError(t, err)
	var prom struct {
		ScrapeConfigs []struct {
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &prom))
	targets := map[string]string{} // target -> metrics path
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				targets[target] = sc.MetricsPath
			}
		}
	}

	served := 0
	for name, svc := range c.Services {
		if len(svc.Command) == 0 || svc.Command[0] != "serve" {
			continue
		}
		served++
		_, port, err := net.SplitHostPort(svc.Environment["TASKPULSE_LISTEN"])
		require.NoError(t, err, name)
		path, ok := targets[name+":"+port]
		require.True(t, ok, "Prometheus does not scrape %s:%s", name, port)
		require.Equal(t, "/metrics", path, name)
	}
	require.GreaterOrEqual(t, served, 5, "ingest, writer, query, stream and alerting run taskpulse serve")
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
					Expr   string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		require.NoError(t, json.Unmarshal(raw, &d), f)
		require.NotEmpty(t, d.UID, f)
		for _, p := range d.Panels {
			for _, target := range p.Targets {
				if target.Expr != "" { // PromQL, for the Prometheus data source
					continue
				}
				require.Contains(t, target.RawSQL, "FROM", f)
			}
		}
	}
}
