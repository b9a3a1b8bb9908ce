package grafana

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Tag marks every TaskPulse dashboard, and the dashboard links list the
// dashboards that carry it.
const Tag = "taskpulse"

// newDashboard starts a dashboard with what all of them share: a uid, the
// tag, a 24-hour range and links to the others, keeping the range.
func newDashboard(uid, title, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{Tag}).
		Editable().
		Time("now-24h", "now").
		Refresh("1m").
		Timezone("browser").
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Link(dashboard.NewDashboardLinkBuilder("TaskPulse").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{Tag}).
			AsDropdown(true).
			KeepTime(true).
			IncludeVars(false))
}

// queryVar is a variable whose options a ClickHouse query lists, read
// again when the time range changes.
func queryVar(name, label, query string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(clickhouseRef).
		Query(dashboard.StringOrMap{String: &query}).
		Definition(query).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged)
}

// tenantVar chooses the tenant; every ClickHouse dashboard has it first.
func tenantVar() *dashboard.QueryVariableBuilder {
	return queryVar("tenant", "Tenant", "SELECT DISTINCT tenant FROM task_summary ORDER BY tenant")
}

// taskLink makes a table's task_id cells open the task detail dashboard
// for that task, keeping the tenant and the time range.
func taskLink() []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{{
		Id: "links",
		Value: []map[string]any{{
			"title": "Task ${__value.raw}",
			"url":   "/d/" + TaskUID + "?var-tenant=${tenant}&var-task_id=${__value.raw}&${__url_time_range}",
		}},
	}}
}
