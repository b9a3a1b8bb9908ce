package deploy_test

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/taskpulse/taskpulse/internal/app"
	"github.com/taskpulse/taskpulse/internal/auth"
)

// The manifests cannot be applied here (no cluster), so they are parsed
// and held to what the binary accepts and to each other.

const kubeDir = "kubernetes"

// object is the part of a Kubernetes object every check reads; Spec is
// decoded by kind.
type object struct {
	file       string
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       yaml.Node         `yaml:"spec"`
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type deploymentSpec struct {
	Replicas int           `yaml:"replicas"`
	Selector labelSelector `yaml:"selector"`
	Template struct {
		Metadata struct {
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec podSpec `yaml:"spec"`
	} `yaml:"template"`
}

type podSpec struct {
	TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot bool `yaml:"runAsNonRoot"`
		RunAsUser    int  `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	Containers []container `yaml:"containers"`
}

type container struct {
	Image   string   `yaml:"image"`
	Args    []string `yaml:"args"`
	EnvFrom []struct {
		ConfigMapRef *struct{ Name string } `yaml:"configMapRef"`
		SecretRef    *struct{ Name string } `yaml:"secretRef"`
	} `yaml:"envFrom"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
	} `yaml:"securityContext"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"` // a port's name or number
	} `yaml:"httpGet"`
}

// port tells the number of the container port p names, or 0.
func (c container) port(p any) int {
	for _, cp := range c.Ports {
		if p == cp.Name || p == cp.ContainerPort {
			return cp.ContainerPort
		}
	}
	return 0
}

func (c container) envFrom() (configMaps, secrets []string) {
	for _, e := range c.EnvFrom {
		if e.ConfigMapRef != nil {
			configMaps = append(configMaps, e.ConfigMapRef.Name)
		}
		if e.SecretRef != nil {
			secrets = append(secrets, e.SecretRef.Name)
		}
	}
	return configMaps, secrets
}

type serviceSpec struct {
	Selector map[string]string `yaml:"selector"`
	Ports    []struct {
		Name       string `yaml:"name"`
		TargetPort any    `yaml:"targetPort"`
	} `yaml:"ports"`
}

type ingressSpec struct {
	Rules []struct {
		HTTP struct {
			Paths []struct {
				Path     string `yaml:"path"`
				PathType string `yaml:"pathType"`
				Backend  struct {
					Service struct {
						Name string `yaml:"name"`
						Port struct {
							Name string `yaml:"name"`
						} `yaml:"port"`
					} `yaml:"service"`
				} `yaml:"backend"`
			} `yaml:"paths"`
		} `yaml:"http"`
	} `yaml:"rules"`
}

// manifests reads every document of every manifest file, by kind.
func manifests(t *testing.T) map[string][]object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(kubeDir, "*.yaml"))
	require.NoError(t, err)
	byKind := map[string][]object{}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		dec := yaml.NewDecoder(strings.NewReader(string(raw)))
		docs := 0
		for {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, f)
			if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
				continue
			}
			var o object
			require.NoError(t, doc.Decode(&o), f)
			o.file = filepath.Base(f)
			require.NotEmpty(t, o.APIVersion, "%s: apiVersion", f)
			require.NotEmpty(t, o.Kind, "%s: kind", f)
			require.NotEmpty(t, o.Metadata.Name, "%s: metadata.name of a %s", f, o.Kind)
			byKind[o.Kind] = append(byKind[o.Kind], o)
			docs++
		}
		require.NotZero(t, docs, "%s holds no object", f)
	}
	return byKind
}

func decodeSpec[T any](t *testing.T, o object) T {
	t.Helper()
	var spec T
	require.NoError(t, o.Spec.Decode(&spec), "%s %s", o.Kind, o.Metadata.Name)
	return spec
}

// acceptedServices are the names `taskpulse serve --services` accepts.
func acceptedServices(t *testing.T) []string {
	t.Helper()
	names := app.ServiceNames()
	require.NotEmpty(t, names)
	return names
}

func TestKubernetesManifestsAreAllInTheKustomization(t *testing.T) {
	byKind := manifests(t)
	raw, err := os.ReadFile(filepath.Join(kubeDir, "kustomization.yaml"))
	require.NoError(t, err)
	var k struct {
		Namespace string   `yaml:"namespace"`
		Resources []string `yaml:"resources"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &k))

	files := map[string]bool{}
	for _, objs := range byKind {
		for _, o := range objs {
			files[o.file] = true
		}
	}
	require.ElementsMatch(t, slices.Sorted(maps.Keys(files)), k.Resources)

	require.Len(t, byKind["Namespace"], 1)
	ns := byKind["Namespace"][0].Metadata.Name
	require.Equal(t, ns, k.Namespace)
	for kind, objs := range byKind {
		for _, o := range objs {
			if kind != "Namespace" {
				require.Equal(t, ns, o.Metadata.Namespace, "%s %s, for kubectl apply -f", kind, o.Metadata.Name)
			}
		}
	}
}

func TestKubernetesDeploymentsRunEachService(t *testing.T) {
	byKind := manifests(t)
	accepted := acceptedServices(t)
	compose := readCompose(t)

	require.Len(t, byKind["ConfigMap"], 1)
	settings := byKind["ConfigMap"][0]
	require.Equal(t, "kafka", settings.Data["TASKPULSE_BUS"])
	require.Equal(t, "clickhouse", settings.Data["TASKPULSE_STORE"])
	require.Equal(t, "json", settings.Data["TASKPULSE_LOG_FORMAT"])
	require.NotEmpty(t, settings.Data["TASKPULSE_KAFKA_BROKERS"])
	require.NotEmpty(t, settings.Data["TASKPULSE_CLICKHOUSE_ADDR"])
	for key := range settings.Data {
		require.True(t, strings.HasPrefix(key, "TASKPULSE_"), key)
	}
	requireServeSettings(t, settings.Data, settings.file)
	host, listenPort, err := net.SplitHostPort(settings.Data["TASKPULSE_LISTEN"])
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0", host)

	require.Len(t, byKind["Secret"], 1)
	secret := byKind["Secret"][0]
	keys, err := auth.ParseKeys(secret.StringData["TASKPULSE_API_KEYS"])
	require.NoError(t, err)
	require.NotEmpty(t, keys, "the Secret holds a key, or no process would listen on 0.0.0.0")

	checkPod := func(name string, pod podSpec) container {
		t.Helper()
		require.Len(t, pod.Containers, 1, name)
		c := pod.Containers[0]
		require.Equal(t, compose.Services["ingest"].Image, c.Image, "%s runs the image compose builds", name)
		configMaps, secrets := c.envFrom()
		require.Equal(t, []string{settings.Metadata.Name}, configMaps, name)
		require.Equal(t, []string{secret.Metadata.Name}, secrets, name)
		require.True(t, pod.SecurityContext.RunAsNonRoot, name)
		require.NotZero(t, pod.SecurityContext.RunAsUser, "%s: runAsNonRoot needs a numeric user; the image's is named", name)
		require.True(t, c.SecurityContext.ReadOnlyRootFilesystem, name)
		require.False(t, *c.SecurityContext.AllowPrivilegeEscalation, name)
		for _, r := range []string{"cpu", "memory"} {
			require.NotEmpty(t, c.Resources.Requests[r], "%s requests %s", name, r)
			require.NotEmpty(t, c.Resources.Limits[r], "%s limits %s", name, r)
		}
		return c
	}

	require.Len(t, byKind["Job"], 1)
	migrate := checkPod("migrate", decodeSpec[struct {
		Template struct {
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	}](t, byKind["Job"][0]).Template.Spec)
	require.Equal(t, []string{"migrate"}, migrate.Args)

	var deployed []string
	for _, d := range byKind["Deployment"] {
		spec := decodeSpec[deploymentSpec](t, d)
		name := d.Metadata.Name
		c := checkPod(name, spec.Template.Spec)
		require.Len(t, c.Args, 2, name)
		require.Equal(t, "serve", c.Args[0], name)
		svc, ok := strings.CutPrefix(c.Args[1], "--services=")
		require.True(t, ok, "%s: %v", name, c.Args)
		require.Contains(t, accepted, svc, "%s runs a service serve accepts", name)
		deployed = append(deployed, svc)

		require.Equal(t, 2, spec.Replicas, name)
		require.NotEmpty(t, spec.Selector.MatchLabels, name)
		require.Subset(t, spec.Template.Metadata.Labels, spec.Selector.MatchLabels, "%s selects its own pods", name)
		require.Greater(t, spec.Template.Spec.TerminationGracePeriodSeconds, 30, "%s outlasts --shutdown-grace", name)
		for path, p := range map[string]*probe{"/readyz": c.ReadinessProbe, "/healthz": c.LivenessProbe} {
			require.NotNil(t, p, "%s probes %s", name, path)
			require.NotNil(t, p.HTTPGet, name)
			require.Equal(t, path, p.HTTPGet.Path, name)
			require.Equal(t, listenPort, strconv.Itoa(c.port(p.HTTPGet.Port)), "%s probes the port it listens on", name)
		}
	}
	require.ElementsMatch(t, accepted, deployed, "one Deployment per service")
}

func TestKubernetesServicesAndIngressReachDeployments(t *testing.T) {
	byKind := manifests(t)
	podLabels := map[string]map[string]string{}
	containers := map[string]container{}
	for _, d := range byKind["Deployment"] {
		spec := decodeSpec[deploymentSpec](t, d)
		podLabels[d.Metadata.Name] = spec.Template.Metadata.Labels
		containers[d.Metadata.Name] = spec.Template.Spec.Containers[0]
	}
	selects := func(selector map[string]string) []string {
		var matched []string
		for name, labels := range podLabels {
			if subset(selector, labels) {
				matched = append(matched, name)
			}
		}
		return matched
	}

	servicePorts := map[string][]string{}
	servesDeployment := map[string]string{}
	for _, s := range byKind["Service"] {
		spec := decodeSpec[serviceSpec](t, s)
		matched := selects(spec.Selector)
		require.Len(t, matched, 1, "Service %s selects the pods of one Deployment", s.Metadata.Name)
		servesDeployment[s.Metadata.Name] = matched[0]
		for _, p := range spec.Ports {
			require.NotZero(t, containers[matched[0]].port(p.TargetPort), "Service %s targets a container port", s.Metadata.Name)
			servicePorts[s.Metadata.Name] = append(servicePorts[s.Metadata.Name], p.Name)
		}
	}
	require.ElementsMatch(t, []string{"taskpulse-ingest", "taskpulse-tasks", "taskpulse-query", "taskpulse-stream", "taskpulse-alerting"}, slices.Collect(maps.Keys(servesDeployment)))

	require.Len(t, byKind["PodDisruptionBudget"], 1)
	pdb := decodeSpec[struct {
		Selector labelSelector `yaml:"selector"`
	}](t, byKind["PodDisruptionBudget"][0])
	require.Equal(t, []string{"taskpulse-writer"}, selects(pdb.Selector.MatchLabels))

	require.Len(t, byKind["Ingress"], 1)
	routes := map[string]string{}
	for _, rule := range decodeSpec[ingressSpec](t, byKind["Ingress"][0]).Rules {
		for _, p := range rule.HTTP.Paths {
			b := p.Backend.Service
			require.Contains(t, servicePorts[b.Name], b.Port.Name, "Ingress %s goes to a port of a Service", p.Path)
			routes[p.PathType+" "+p.Path] = servesDeployment[b.Name]
		}
	}
	f := func(route, deployment string) {
		t.Helper()
		require.Equal(t, "taskpulse-"+deployment, routes[route], route)
	}
	f("Exact /v1/progress", "ingest")
	f("Exact /v1/logs", "ingest")
	f("Exact /v1/metrics", "ingest")
	f("Prefix /v1/otlp", "ingest")
	f("Exact /v1/stream", "stream")
	f("Exact /api/v1/progress/ws", "stream")
	f("Exact /v1/tasks/batch", "tasks")
	f("Exact /", "stream")
	f("Prefix /web", "stream")
	f("Prefix /tasks", "stream")
	f("Prefix /dashboards", "stream")
	f("Exact /alerts", "stream")
	f("Prefix /v1/alert-rules", "alerting")
	f("Prefix /v1/alerts", "alerting")
	f("Prefix /v1/silences", "alerting")
	f("Prefix /v1/notifications", "alerting")
	f("Prefix /v1", "query")
}

// subset tells whether a non-empty selector picks pods of these labels.
func subset(small, big map[string]string) bool {
	if len(small) == 0 {
		return false
	}
	for k, v := range small {
		if big[k] != v {
			return false
		}
	}
	return true
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	return readComposeFile(t, "docker-compose.yml")
}

// clusterDir is the component that turns the base into the clustered shape.
var clusterDir = filepath.Join(kubeDir, "cluster")

type clusterComponent struct {
	Kind    string `yaml:"kind"`
	Patches []struct {
		Path   string `yaml:"path"`
		Target *struct {
			Kind string `yaml:"kind"`
		} `yaml:"target"`
	} `yaml:"patches"`
	Replicas []struct {
		Name  string `yaml:"name"`
		Count int    `yaml:"count"`
	} `yaml:"replicas"`
}

// TestKubernetesClusterComponentFitsTheBase holds deploy/kubernetes/cluster
// to the base it patches: its settings are serve's and name three brokers
// or more and every server of a ClickHouse cluster; every Deployment runs
// twice or more, its pods spread over nodes by component.
func TestKubernetesClusterComponentFitsTheBase(t *testing.T) {
	byKind := manifests(t)
	raw, err := os.ReadFile(filepath.Join(clusterDir, "kustomization.yaml"))
	require.NoError(t, err)
	var k clusterComponent
	require.NoError(t, yaml.Unmarshal(raw, &k))
	require.Equal(t, "Component", k.Kind)

	deployments := map[string]deploymentSpec{}
	for _, d := range byKind["Deployment"] {
		deployments[d.Metadata.Name] = decodeSpec[deploymentSpec](t, d)
	}
	scaled := map[string]int{}
	for _, r := range k.Replicas {
		require.Contains(t, deployments, r.Name, "replicas of a Deployment of the base")
		scaled[r.Name] = r.Count
	}
	for name, d := range deployments {
		require.GreaterOrEqual(t, cmp.Or(scaled[name], d.Replicas), 2, "%s runs twice or more", name)
	}

	require.Len(t, k.Patches, 2)
	for _, p := range k.Patches {
		raw, err := os.ReadFile(filepath.Join(clusterDir, p.Path))
		require.NoError(t, err)
		var patch object
		require.NoError(t, yaml.Unmarshal(raw, &patch), p.Path)
		switch patch.Kind {
		case "ConfigMap":
			require.Nil(t, p.Target, "the settings patch names its ConfigMap")
			base := byKind["ConfigMap"][0]
			require.Equal(t, base.Metadata.Name, patch.Metadata.Name)
			requireServeSettings(t, patch.Data, p.Path)
			settings := maps.Clone(base.Data)
			maps.Copy(settings, patch.Data)
			checkClusterSettings(t, settings)
		case "Deployment":
			require.Equal(t, "Deployment", p.Target.Kind, "%s applies to every Deployment", p.Path)
			spread := decodeSpec[struct {
				Template struct {
					Spec struct {
						TopologySpreadConstraints []struct {
							TopologyKey    string        `yaml:"topologyKey"`
							LabelSelector  labelSelector `yaml:"labelSelector"`
							MatchLabelKeys []string      `yaml:"matchLabelKeys"`
						} `yaml:"topologySpreadConstraints"`
					} `yaml:"spec"`
				} `yaml:"template"`
			}](t, patch)
			constraints := spread.Template.Spec.TopologySpreadConstraints
			require.Len(t, constraints, 1)
			c := constraints[0]
			require.Equal(t, "kubernetes.io/hostname", c.TopologyKey)
			for name, d := range deployments {
				labels := d.Template.Metadata.Labels
				require.True(t, subset(c.LabelSelector.MatchLabels, labels), "the spread selects the pods of %s", name)
				for _, key := range c.MatchLabelKeys {
					require.Contains(t, d.Selector.MatchLabels, key, "%s: the spread counts the pods of its own component", name)
				}
			}
		default:
			t.Fatalf("%s patches a %s", p.Path, patch.Kind)
		}
	}
}

// checkClusterSettings holds the clustered settings together: three
// brokers or more and no more replicas than brokers, a ClickHouse cluster
// named, and its servers, two shards of two replicas or more.
func checkClusterSettings(t *testing.T, settings map[string]string) {
	t.Helper()
	brokers := strings.Split(settings["TASKPULSE_KAFKA_BROKERS"], ",")
	require.GreaterOrEqual(t, len(brokers), 3)
	servers := strings.Split(settings["TASKPULSE_CLICKHOUSE_ADDR"], ",")
	require.GreaterOrEqual(t, len(servers), 4)
	for _, addr := range append(brokers, servers...) {
		_, _, err := net.SplitHostPort(addr)
		require.NoError(t, err)
	}
	replicas, err := strconv.Atoi(settings["TASKPULSE_KAFKA_REPLICATION_FACTOR"])
	require.NoError(t, err)
	insync, err := strconv.Atoi(settings["TASKPULSE_KAFKA_MIN_INSYNC_REPLICAS"])
	require.NoError(t, err)
	require.LessOrEqual(t, replicas, len(brokers))
	require.Less(t, insync, replicas, "a broker may go away and ingest still acknowledge")
	require.NotEmpty(t, settings["TASKPULSE_CLICKHOUSE_CLUSTER"])
}

// TestKubernetesClusterComponentBuilds renders the base with the component
// through kubectl's kustomize, as a user's kustomization does, when kubectl
// is installed.
func TestKubernetesClusterComponentBuilds(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed")
	}
	// A kustomization may not name an absolute path, so the user's is
	// written next to the repository's and names it relatively.
	dir := t.TempDir()
	base, err := filepath.Abs(kubeDir)
	require.NoError(t, err)
	rel, err := filepath.Rel(dir, base)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"),
		fmt.Appendf(nil, "resources: [%s]\ncomponents: [%s]\n", rel, filepath.Join(rel, "cluster")), 0o644))
	out, err := exec.Command(kubectl, "kustomize", dir).Output()
	require.NoError(t, err, "kubectl kustomize: %s", stderrOf(err))

	dec := yaml.NewDecoder(bytes.NewReader(out))
	deployments := 0
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		switch o.Kind {
		case "ConfigMap":
			checkClusterSettings(t, o.Data)
		case "Deployment":
			deployments++
			spec := decodeSpec[deploymentSpec](t, o)
			require.Equal(t, 2, spec.Replicas, o.Metadata.Name)
			var spread struct {
				Template struct {
					Spec struct {
						TopologySpreadConstraints []any `yaml:"topologySpreadConstraints"`
					} `yaml:"spec"`
				} `yaml:"template"`
			}
			require.NoError(t, o.Spec.Decode(&spread))
			require.Len(t, spread.Template.Spec.TopologySpreadConstraints, 1, o.Metadata.Name)
		}
	}
	require.Len(t, acceptedServices(t), deployments)
}

func stderrOf(err error) string {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(exit.Stderr)
	}
	return ""
}
