package app

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/taskpulse/taskpulse/alerting/channel"
	"github.com/taskpulse/taskpulse/ingest/writer"
	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/backend"
	"github.com/taskpulse/taskpulse/internal/config"
	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/ratelimit"
	"github.com/taskpulse/taskpulse/internal/telemetry"
	"github.com/taskpulse/taskpulse/web"
)

// Settings are everything serve reads from flags, environment and the
// config file.
type Settings struct {
	configFile  string
	listen      string
	dataDir     string
	services    []string
	apiKeys     string
	apiKeysFile string
	bodyLimit   int
	// allowedOrigins are the origins of other sites' pages that may use
	// the API through a browser.
	allowedOrigins []string
	logLevel       string
	logFormat      string

	writerBatch   int
	writerWait    time.Duration
	streamQueue   int
	alertRules    string
	shutdownGrace time.Duration
	otlpEndpoint  string
	// pprofAddr is where net/http/pprof is served, apart from the API;
	// empty: nowhere.
	pprofAddr string

	// alertChannelAllow and alertChannelDeny are the hosts and networks
	// tenants' alert channels may and may not reach.
	alertChannelAllow []string
	alertChannelDeny  []string

	// ui are the services the UI's pages call, when this process serves
	// the UI without running them.
	ui web.Upstreams

	limits  ratelimit.Config
	backend backend.Flags

	keys auth.Keys
}

// RegisterFlags adds serve's flags, the backends' included, to fs.
func (s *Settings) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&s.configFile, "config", "", "YAML file of settings, keyed by flag name")
	fs.StringVar(&s.listen, "listen", "127.0.0.1:8080", "HTTP address to listen on")
	fs.StringVar(&s.dataDir, "data-dir", "./data", "directory of the embedded bus and DuckDB store")
	fs.Func("services", "comma list of services to run: ingest,writer,query,stream,alerting (default all)", func(v string) error {
		s.services = nil
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name == "all" {
				s.services = append(s.services, allServices...)
			} else if slices.Contains(allServices, name) {
				s.services = append(s.services, name)
			} else if name != "" {
				return fmt.Errorf("unknown service %q (known: %s)", name, strings.Join(allServices, ", "))
			}
		}
		return nil
	})
	fs.StringVar(&s.apiKeys, "api-keys", "", "API keys as key=tenant pairs, comma separated")
	fs.StringVar(&s.apiKeysFile, "api-keys-file", "", "file of key=tenant lines")
	fs.IntVar(&s.bodyLimit, "body-limit", 16<<20, "largest request body in bytes")
	fs.Func("allowed-origins", "comma list of origins (https://app.example.com) whose pages may open WebSockets and send writes, beside the server's own and loopback; * for any", func(v string) error {
		s.allowedOrigins = nil
		for o := range strings.SplitSeq(v, ",") {
			if o = strings.TrimSpace(o); o == "" {
				continue
			}
			if err := httpx.ValidOrigin(o); err != nil {
				return err
			}
			s.allowedOrigins = append(s.allowedOrigins, o)
		}
		return nil
	})
	s.limits.RegisterFlags(fs)
	fs.StringVar(&s.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&s.logFormat, "log-format", "text", "text or json")
	fs.IntVar(&s.writerBatch, "writer-batch", writer.DefaultBatchSize, "most events the writer inserts at once")
	fs.DurationVar(&s.writerWait, "writer-wait", 200*time.Millisecond, "longest the writer waits to fill a batch")
	fs.IntVar(&s.streamQueue, "stream-queue", 256, "messages queued per WebSocket connection before progress is coalesced")
	fs.StringVar(&s.alertRules, "alert-rules", "", "YAML file of alert rules and channels, read again on SIGHUP")
	fs.Func("alert-channel-allow", "comma list of IP addresses, CIDR networks and host names (*.example.com for subdomains) that alert channels made through the API may reach although internal (loopback, private, link-local...)", func(v string) error {
		s.alertChannelAllow = splitList(v)
		return nil
	})
	fs.Func("alert-channel-deny", "comma list of IP addresses, CIDR networks and host names that alert channels made through the API may never reach; wins over --alert-channel-allow", func(v string) error {
		s.alertChannelDeny = splitList(v)
		return nil
	})
	fs.DurationVar(&s.shutdownGrace, "shutdown-grace", 30*time.Second, "how long a stop waits for in-flight work")
	fs.StringVar(&s.pprofAddr, "pprof-addr", "", "address (127.0.0.1:6060) to serve Go profiles at /debug/pprof/ on, apart from the API, without authentication (default: not served)")
	fs.StringVar(&s.otlpEndpoint, "otlp-endpoint", "", "base URL of an OTLP/HTTP collector to export spans to, such as http://127.0.0.1:4318 (default: OTEL_EXPORTER_OTLP_ENDPOINT, else no export)")
	fs.StringVar(&s.ui.Query, "ui-query-url", "", "base URL (http://query:8080) of the query service, to which a process serving the web UI without running query forwards the pages' reads")
	fs.StringVar(&s.ui.Alerting, "ui-alerting-url", "", "base URL of the alerting service, to which a process serving the web UI without running alerting forwards the pages' alert calls")
	fs.StringVar(&s.ui.Tasks, "ui-tasks-url", "", "base URL of the task API (the tasks service), to which a process serving the web UI without running it forwards the pages' task changes")
	s.backend.RegisterFlags(fs)
}

// Parse reads args, the environment and the config file into s, and
// checks the result.
func (s *Settings) Parse(fs *flag.FlagSet, args []string) error {
	if err := config.Parse(fs, args, "config"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if len(s.services) == 0 {
		s.services = allServices
	}
	keys, err := auth.LoadKeys(s.apiKeys, s.apiKeysFile)
	if err != nil {
		return err
	}
	s.keys = keys
	if err := s.validate(); err != nil {
		return err
	}
	return s.backend.Validate()
}

func (s *Settings) validate() error {
	host, _, err := net.SplitHostPort(s.listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", s.listen, err)
	}
	if len(s.keys) == 0 && !isLoopback(host) {
		return errors.New("refusing to listen on " + s.listen + " without API keys: anyone who can reach it could read and write every task. " +
			"Set --api-keys (or TASKPULSE_API_KEYS, or --api-keys-file), or listen on 127.0.0.1")
	}
	if s.pprofAddr != "" {
		if _, _, err := net.SplitHostPort(s.pprofAddr); err != nil {
			return fmt.Errorf("--pprof-addr %q: %w", s.pprofAddr, err)
		}
	}
	if s.bodyLimit <= 0 {
		return errors.New("--body-limit must be positive")
	}
	if _, err := channel.NewPolicy(s.alertChannelAllow, s.alertChannelDeny, nil); err != nil {
		return fmt.Errorf("--alert-channel-allow, --alert-channel-deny: %w", err)
	}
	if err := s.limits.Validate(); err != nil {
		return err
	}
	if err := telemetry.ValidateEndpoint(s.otlpEndpoint); err != nil {
		return fmt.Errorf("--otlp-endpoint: %w", err)
	}
	for _, f := range [][2]string{{"ui-query-url", s.ui.Query}, {"ui-alerting-url", s.ui.Alerting}, {"ui-tasks-url", s.ui.Tasks}} {
		if err := telemetry.ValidateEndpoint(f[1]); err != nil {
			return fmt.Errorf("--%s: %w", f[0], err)
		}
	}
	return nil
}

func (s *Settings) tracing() telemetry.TracingConfig {
	return telemetry.TracingConfig{Endpoint: s.otlpEndpoint, Services: s.services, Version: Version()}
}

func (s *Settings) runs(service string) bool { return slices.Contains(s.services, service) }

// uiUpstreams are the services a process serving the UI forwards its
// pages' calls to: those named by the --ui-*-url flags that it does not
// run itself. A process that does not serve the UI forwards nothing.
func (s *Settings) uiUpstreams() web.Upstreams {
	if !s.runs("stream") {
		return web.Upstreams{}
	}
	up := s.ui
	for name, u := range map[string]*string{"query": &up.Query, "alerting": &up.Alerting, "tasks": &up.Tasks} {
		if s.runs(name) {
			*u = ""
		}
	}
	return up
}

// splitList reads a comma list, dropping blanks.
func splitList(v string) []string {
	var out []string
	for part := range strings.SplitSeq(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
