package deploy_test

import (
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// uiUpstreams are the settings that name, for the process serving the web
// UI, the service its pages' calls go to.
var uiUpstreams = map[string]string{
	"TASKPULSE_UI_QUERY_URL":    "query",
	"TASKPULSE_UI_ALERTING_URL": "alerting",
	"TASKPULSE_UI_TASKS_URL":    "tasks",
}

// requireUIUpstream holds the address of a --ui-*-url setting to the
// host and port of the place running the service it names: reach maps a
// host and port to the services run there.
func requireUIUpstream(t *testing.T, where, setting, address string, reach func(host, port string) []string) {
	t.Helper()
	u, err := url.Parse(address)
	require.NoError(t, err, "%s: %s", where, setting)
	require.Equal(t, "http", u.Scheme, "%s: %s", where, setting)
	host, port, err := net.SplitHostPort(u.Host)
	require.NoError(t, err, "%s: %s names a port", where, setting)
	require.Equal(t, []string{uiUpstreams[setting]}, reach(host, port), "%s: %s reaches the %s service", where, setting, uiUpstreams[setting])
}

// TestComposeUIReachesTheServices holds the process serving the UI in the
// distributed compose file to forwarding its pages' calls to the
// containers that run query, alerting and the task API.
func TestComposeUIReachesTheServices(t *testing.T) {
	c := readCompose(t)
	ui := 0
	for name, svc := range c.Services {
		if !slices.Contains(composeServed(svc), "stream") {
			continue
		}
		ui++
		for setting := range uiUpstreams {
			require.Contains(t, svc.Environment, setting, name)
			requireUIUpstream(t, name, setting, svc.Environment[setting], composeReach(t, c))
		}
	}
	require.Equal(t, 1, ui, "one container serves the UI")
}

// TestComposeClusterUIReachesTheServices does the same for the cluster
// file, whose stream containers name the services by flag, each its own.
func TestComposeClusterUIReachesTheServices(t *testing.T) {
	c := readComposeFile(t, "docker-compose.cluster.yml")
	ui := 0
	for name, svc := range c.Services {
		if !slices.Contains(composeServed(svc), "stream") {
			continue
		}
		ui++
		flags := map[string]string{}
		for _, arg := range svc.Command[2:] {
			flag, value, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
			flags["TASKPULSE_"+strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))] = value
		}
		for setting := range uiUpstreams {
			require.Contains(t, flags, setting, name)
			requireUIUpstream(t, name, setting, flags[setting], composeReach(t, c))
		}
	}
	require.Equal(t, 2, ui, "two containers serve the UI")
}

// composeServed is the services a TaskPulse container runs.
func composeServed(svc composeService) []string {
	if len(svc.Command) < 2 {
		return nil
	}
	names, _ := strings.CutPrefix(svc.Command[1], "--services=")
	return strings.Split(names, ",")
}

// composeReach maps a host and port to the services the container of that
// name runs, if it listens on that port.
func composeReach(t *testing.T, c composeFile) func(host, port string) []string {
	return func(host, port string) []string {
		svc, ok := c.Services[host]
		require.True(t, ok, "no container %s", host)
		_, listen, err := net.SplitHostPort(svc.Environment["TASKPULSE_LISTEN"])
		require.NoError(t, err)
		require.Equal(t, listen, port, "%s listens on its port", host)
		return composeServed(svc)
	}
}

// TestKubernetesUIReachesTheServices holds the Deployment serving the UI
// to forwarding its pages' calls to the Services in front of the
// Deployments that run query, alerting and the task API.
func TestKubernetesUIReachesTheServices(t *testing.T) {
	type podEnv struct {
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []struct {
					Args []string `yaml:"args"`
					Env  []struct {
						Name  string `yaml:"name"`
						Value string `yaml:"value"`
					} `yaml:"env"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	}
	type service struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Port int `yaml:"port"`
		} `yaml:"ports"`
	}
	objects := manifests(t)
	served := func(d podEnv) []string {
		for _, arg := range d.Template.Spec.Containers[0].Args {
			if names, ok := strings.CutPrefix(arg, "--services="); ok {
				return strings.Split(names, ",")
			}
		}
		return nil
	}
	reach := func(host, port string) []string {
		for _, o := range objects["Service"] {
			if o.Metadata.Name != host {
				continue
			}
			s := decodeSpec[service](t, o)
			ports := []string{}
			for _, p := range s.Ports {
				ports = append(ports, strconv.Itoa(p.Port))
			}
			require.Contains(t, ports, port, "Service %s has the port", host)
			var runs []string
			for _, d := range objects["Deployment"] {
				if spec := decodeSpec[podEnv](t, d); subset(s.Selector, spec.Template.Metadata.Labels) {
					runs = append(runs, served(spec)...)
				}
			}
			return runs
		}
		require.Fail(t, "no Service "+host)
		return nil
	}
	ui := 0
	for _, d := range objects["Deployment"] {
		spec := decodeSpec[podEnv](t, d)
		if !slices.Contains(served(spec), "stream") {
			continue
		}
		ui++
		env := map[string]string{}
		for _, e := range spec.Template.Spec.Containers[0].Env {
			env[e.Name] = e.Value
		}
		for setting := range uiUpstreams {
			require.Contains(t, env, setting, d.Metadata.Name)
			requireUIUpstream(t, d.Metadata.Name, setting, env[setting], reach)
		}
	}
	require.Equal(t, 1, ui, "one Deployment serves the UI")
}
