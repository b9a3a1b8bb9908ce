// Package deploy_test checks the deployment files that cannot run here:
// docker compose needs a Docker engine, so the compose files are parsed,
// every file they refer to must exist, and every setting they give
// TaskPulse must be one the binary has.
package deploy_test

import (
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/taskpulse/taskpulse/internal/app"
	"github.com/taskpulse/taskpulse/internal/config"
)

// composeFiles are the single-server shape and the clustered one.
var composeFiles = []string{"docker-compose.yml", "docker-compose.cluster.yml"}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	Healthcheck *struct{}         `yaml:"healthcheck"`
	Environment map[string]string `yaml:"environment"`
	Configs     []struct {
		Source string `yaml:"source"`
		Target string `yaml:"target"`
	} `yaml:"configs"`
}

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
	Configs  map[string]struct {
		Content string `yaml:"content"`
	} `yaml:"configs"`
}

func readComposeFile(t *testing.T, name string) composeFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", name))
	require.NoError(t, err)
	var c composeFile
	require.NoError(t, yaml.Unmarshal(raw, &c), name)
	return c
}

// serveSettings are the environment variables `taskpulse serve` reads,
// one per flag.
func serveSettings(t *testing.T) map[string]bool {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var s app.Settings
	s.RegisterFlags(fs)
	names := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { names[config.EnvName(f.Name)] = true })
	require.NotEmpty(t, names)
	return names
}

// requireServeSettings holds every TASKPULSE_* variable of env to a flag
// of serve, so that a misspelt or missing setting is not silently ignored.
func requireServeSettings(t *testing.T, env map[string]string, where string) {
	t.Helper()
	settings := serveSettings(t)
	for key := range env {
		if strings.HasPrefix(key, "TASKPULSE_") {
			require.True(t, settings[key], "%s: %s is not a setting of taskpulse serve", where, key)
		}
	}
}

func TestComposeFilesReferToFilesThatExist(t *testing.T) {
	for _, file := range composeFiles {
		t.Run(file, func(t *testing.T) { checkComposeReferences(t, readComposeFile(t, file)) })
	}
	c := readComposeFile(t, "docker-compose.yml")
	for _, name := range []string{"kafka", "clickhouse", "grafana", "prometheus", "ingest", "writer", "query", "stream"} {
		require.Contains(t, c.Services, name)
	}
	for _, name := range []string{"kafka", "clickhouse", "grafana", "prometheus"} {
		require.NotNil(t, c.Services[name].Healthcheck, "%s has a health check", name)
	}
	for _, svc := range []string{"ingest", "writer", "query", "stream"} {
		require.Equal(t, []string{"serve", "--services=" + svc}, c.Services[svc].Command)
	}
}

// checkComposeReferences holds a compose file's services to what exists:
// images or builds, mounted files and volumes, configs, TaskPulse settings
// and services, and host ports taken once.
func checkComposeReferences(t *testing.T, c composeFile) {
	t.Helper()
	root := ".."
	hostPorts := map[string]string{}
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
		for _, cfg := range svc.Configs {
			require.Contains(t, c.Configs, cfg.Source, "%s uses a declared config", name)
		}
		if svc.Environment["TASKPULSE_BUS"] != "" {
			require.Equal(t, "kafka", svc.Environment["TASKPULSE_BUS"], name)
			require.Equal(t, "clickhouse", svc.Environment["TASKPULSE_STORE"], name)
		}
		requireServeSettings(t, svc.Environment, name)
		if len(svc.Command) > 0 && svc.Command[0] == "serve" {
			require.GreaterOrEqual(t, len(svc.Command), 2, name)
			for _, arg := range svc.Command[2:] {
				require.Regexp(t, `^--ui-[a-z]+-url=`, arg, "%s: more than its services is the UI's upstreams (see ui_proxy_test.go)", name)
			}
			served, ok := strings.CutPrefix(svc.Command[1], "--services=")
			require.True(t, ok, "%s: %v", name, svc.Command)
			require.Contains(t, app.ServiceNames(), served, "%s runs a service serve accepts", name)
		}
		for _, p := range svc.Ports {
			host, _, _ := strings.Cut(p, ":")
			require.NotContains(t, hostPorts, host, "%s and %s both take host port %s", name, hostPorts[host], host)
			hostPorts[host] = name
		}
	}
}

// clickhouseClusterConfig is the part of a ClickHouse server's config the
// clustered compose file gives every server.
type clickhouseClusterConfig struct {
	RemoteServers struct {
		Clusters []struct {
			XMLName xml.Name
			Shards  []struct {
				InternalReplication bool `xml:"internal_replication"`
				Replicas            []struct {
					Host string `xml:"host"`
					Port int    `xml:"port"`
				} `xml:"replica"`
			} `xml:"shard"`
		} `xml:",any"`
	} `xml:"remote_servers"`
	ZooKeeper []struct {
		Host string `xml:"host"`
		Port int    `xml:"port"`
	} `xml:"zookeeper>node"`
	Macros struct {
		Shard struct {
			FromEnv string `xml:"from_env,attr"`
		} `xml:"shard"`
		Replica struct {
			FromEnv string `xml:"from_env,attr"`
		} `xml:"replica"`
	} `xml:"macros"`
}

// TestComposeClusterFileIsOneCluster holds docker-compose.cluster.yml
// together: every TaskPulse service runs twice on every broker and every
// ClickHouse server; the brokers form one KRaft quorum; the ClickHouse
// servers are the shards and replicas of the cluster TaskPulse names,
// each knowing its own place; topics have no more replicas than brokers.
func TestComposeClusterFileIsOneCluster(t *testing.T) {
	c := readComposeFile(t, "docker-compose.cluster.yml")
	kinds := map[string][]string{} // kafka, clickhouse, or the service a process serves
	for name, svc := range c.Services {
		switch {
		case svc.Environment["KAFKA_NODE_ID"] != "":
			kinds["kafka"] = append(kinds["kafka"], name)
		case svc.Environment["CLICKHOUSE_SHARD"] != "":
			kinds["clickhouse"] = append(kinds["clickhouse"], name)
		case len(svc.Command) >= 2 && svc.Command[0] == "serve":
			served := strings.TrimPrefix(svc.Command[1], "--services=")
			kinds[served] = append(kinds[served], name)
		}
	}
	for _, served := range app.ServiceNames() {
		require.Len(t, kinds[served], 2, "two processes run %s", served)
	}
	require.GreaterOrEqual(t, len(kinds["kafka"]), 3, "three brokers or more")
	require.GreaterOrEqual(t, len(kinds["clickhouse"]), 4, "two shards of two replicas or more")
	for _, name := range append(slices.Clone(kinds["kafka"]), kinds["clickhouse"]...) {
		require.NotNil(t, c.Services[name].Healthcheck, "%s has a health check", name)
	}

	env := c.Services[kinds["ingest"][0]].Environment
	for _, names := range kinds {
		for _, name := range names {
			if c.Services[name].Command != nil && c.Services[name].Command[0] == "serve" {
				require.Equal(t, env, c.Services[name].Environment, "%s has the settings of every TaskPulse process", name)
			}
		}
	}
	require.Equal(t, env, c.Services["migrate"].Environment, "migrate has the settings of every TaskPulse process")

	// Kafka: one quorum of every broker, each advertising the address
	// TaskPulse has for it; no more replicas than brokers.
	var voters, advertised []string
	ids := map[string]bool{}
	for _, name := range kinds["kafka"] {
		e := c.Services[name].Environment
		voters = append(voters, e["KAFKA_NODE_ID"]+"@"+name+":9093")
		ids[e["KAFKA_NODE_ID"]] = true
		require.Equal(t, "PLAINTEXT://"+name+":9092", e["KAFKA_ADVERTISED_LISTENERS"], name)
		advertised = append(advertised, name+":9092")
		require.Equal(t, c.Services[kinds["kafka"][0]].Environment["CLUSTER_ID"], e["CLUSTER_ID"], "%s is in the cluster", name)
	}
	require.Len(t, ids, len(kinds["kafka"]), "every broker has its own node id")
	for _, name := range kinds["kafka"] {
		require.ElementsMatch(t, voters, strings.Split(c.Services[name].Environment["KAFKA_CONTROLLER_QUORUM_VOTERS"], ","), "%s votes with every broker", name)
	}
	require.ElementsMatch(t, advertised, strings.Split(env["TASKPULSE_KAFKA_BROKERS"], ","))
	replicas, err := strconv.Atoi(env["TASKPULSE_KAFKA_REPLICATION_FACTOR"])
	require.NoError(t, err)
	insync, err := strconv.Atoi(env["TASKPULSE_KAFKA_MIN_INSYNC_REPLICAS"])
	require.NoError(t, err)
	require.LessOrEqual(t, replicas, len(kinds["kafka"]))
	require.Less(t, insync, replicas, "a broker may go away and ingest still acknowledge")

	// ClickHouse: the cluster TaskPulse names, of every server, each
	// server's macros naming its own shard and replica.
	var cfg clickhouseClusterConfig
	var mounted string
	for _, name := range kinds["clickhouse"] {
		svc := c.Services[name]
		require.Len(t, svc.Configs, 1, name)
		mounted = svc.Configs[0].Source
		require.Equal(t, "/etc/clickhouse-server/config.d/cluster.xml", svc.Configs[0].Target, name)
	}
	require.NoError(t, xml.Unmarshal([]byte(c.Configs[mounted].Content), &cfg))
	require.Len(t, cfg.RemoteServers.Clusters, 1)
	cluster := cfg.RemoteServers.Clusters[0]
	require.Equal(t, env["TASKPULSE_CLICKHOUSE_CLUSTER"], cluster.XMLName.Local, "TaskPulse names the cluster the servers define")
	var servers []string
	hosts := map[string]bool{}
	for s, shard := range cluster.Shards {
		require.True(t, shard.InternalReplication, "shard %d: a Distributed insert writes one replica and replication copies it", s+1)
		require.GreaterOrEqual(t, len(shard.Replicas), 2, "shard %d has a replica to lose", s+1)
		for r, replica := range shard.Replicas {
			require.False(t, hosts[replica.Host], "%s is in the cluster once", replica.Host)
			hosts[replica.Host] = true
			e := c.Services[replica.Host].Environment
			require.Equal(t, strconv.Itoa(s+1), e[cfg.Macros.Shard.FromEnv], "%s knows its shard", replica.Host)
			require.Equal(t, fmt.Sprintf("replica%d", r+1), e[cfg.Macros.Replica.FromEnv], "%s knows its replica", replica.Host)
			servers = append(servers, fmt.Sprintf("%s:%d", replica.Host, replica.Port))
		}
	}
	require.ElementsMatch(t, kinds["clickhouse"], slices.Collect(maps.Keys(hosts)), "the cluster is every server")
	require.ElementsMatch(t, servers, strings.Split(env["TASKPULSE_CLICKHOUSE_ADDR"], ","), "TaskPulse may reach every server")
	require.Len(t, cfg.ZooKeeper, 1)
	require.Contains(t, c.Services, cfg.ZooKeeper[0].Host)
	require.NotNil(t, c.Services[cfg.ZooKeeper[0].Host].Healthcheck)
}

// TestPrometheusScrapesEveryTaskPulseProcess holds the Prometheus config
// that compose mounts to the services: every service that runs `taskpulse
// serve` is scraped on the port it listens on, so the pipeline dashboard
// sees all of them.
func TestPrometheusScrapesEveryTaskPulseProcess(t *testing.T) {
	c := readComposeFile(t, "docker-compose.yml")

	const promConfig = "./grafana/prometheus/prometheus.yml"
	require.Contains(t, c.Services["prometheus"].Volumes, promConfig+":/etc/prometheus/prometheus.yml:ro")
	raw, err := os.ReadFile(filepath.Join("..", promConfig))
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
