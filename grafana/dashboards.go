package grafana

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Dashboard is one generated dashboard and the file it is provisioned from.
type Dashboard struct {
	File  string // under grafana/dashboards
	build func() *dashboard.DashboardBuilder
}

// All are TaskPulse's dashboards.
var All = []Dashboard{
	{"taskpulse-overview.json", overview},
	{"taskpulse-task.json", taskDetail},
	{"taskpulse-logs.json", logsDashboard},
	{"taskpulse-metrics.json", metricsDashboard},
	{"taskpulse-pipeline.json", pipeline},
}

// JSON is the dashboard as Grafana provisions it, indented, ending in a
// newline.
func (d Dashboard) JSON() ([]byte, error) {
	built, err := d.build().Build()
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", d.File, err)
	}
	// Panels are numbered in order, so that a link to one panel
	// (viewPanel=N) keeps working as long as the panels before it stay.
	for i, p := range built.Panels {
		if p.Panel != nil {
			p.Panel.Id = ptr(uint32(i + 1))
		}
	}
	raw, err := json.MarshalIndent(built, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", d.File, err)
	}
	return append(raw, '\n'), nil
}
