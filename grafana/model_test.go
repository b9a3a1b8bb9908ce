package grafana_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/taskpulse/taskpulse/grafana"
)

// model is the part of a generated dashboard the tests read back.
type model struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type variable struct {
	Type    string `json:"type"`
	Name    string `json:"name"`
	Query   string `json:"query"`
	Multi   bool   `json:"multi"`
	Current struct {
		Value string `json:"value"`
	} `json:"current"`
}

type panel struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource struct {
		Type string `json:"type"`
	} `json:"datasource"`
	Targets []struct {
		RefID  string `json:"refId"`
		RawSQL string `json:"rawSql"`
		Format *int   `json:"format"`
		Expr   string `json:"expr"`
	} `json:"targets"`
}

func models(t testing.TB) []model {
	t.Helper()
	var out []model
	for _, d := range grafana.All {
		raw, err := d.JSON()
		require.NoError(t, err)
		var m model
		require.NoError(t, json.Unmarshal(raw, &m), d.File)
		out = append(out, m)
	}
	return out
}

func TestEveryPanelHasAQueryOfItsDataSource(t *testing.T) {
	uids := map[string]bool{}
	for _, m := range models(t) {
		require.NotEmpty(t, m.UID)
		require.False(t, uids[m.UID], "uid %s is used twice", m.UID)
		uids[m.UID] = true
		require.NotEmpty(t, m.Panels, m.UID)
		for _, p := range m.Panels {
			require.NotEmpty(t, p.Targets, "%s: %s", m.UID, p.Title)
			for _, q := range p.Targets {
				switch p.Datasource.Type {
				case grafana.ClickHouseType:
					require.NotEmpty(t, q.RawSQL, "%s: %s", m.UID, p.Title)
					require.NotNil(t, q.Format, "%s: %s", m.UID, p.Title)
				case grafana.PrometheusType:
					require.NotEmpty(t, q.Expr, "%s: %s", m.UID, p.Title)
				default:
					t.Fatalf("%s: %s: unknown data source %q", m.UID, p.Title, p.Datasource.Type)
				}
			}
		}
	}
	for _, uid := range []string{grafana.OverviewUID, grafana.TaskUID, grafana.LogsUID, grafana.MetricsUID, grafana.PipelineUID} {
		require.True(t, uids[uid], uid)
	}
}

// TestDashboardDataSourcesAreProvisioned checks that the data sources the
// dashboards name by uid are the ones grafana/provisioning creates.
func TestDashboardDataSourcesAreProvisioned(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("provisioning", "datasources", "*.yml"))
	require.NoError(t, err)
	provisioned := map[string]string{} // uid -> type
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		var p struct {
			Datasources []struct {
				UID  string `yaml:"uid"`
				Type string `yaml:"type"`
			} `yaml:"datasources"`
		}
		require.NoError(t, yaml.Unmarshal(raw, &p), f)
		for _, d := range p.Datasources {
			provisioned[d.UID] = d.Type
		}
	}
	require.Equal(t, grafana.ClickHouseType, provisioned[grafana.ClickHouseUID])
	require.Equal(t, grafana.PrometheusType, provisioned[grafana.PrometheusUID])
}
