package grafana

import (
	"reflect"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
)

// The provisioned data sources (grafana/provisioning/datasources), which
// the dashboards name by uid.
const (
	ClickHouseType = "grafana-clickhouse-datasource"
	ClickHouseUID  = "taskpulse-clickhouse"
	PrometheusType = "prometheus"
	PrometheusUID  = "taskpulse-prometheus"
)

func ref(typ, uid string) common.DataSourceRef { return common.DataSourceRef{Type: &typ, Uid: &uid} }

var (
	clickhouseRef = ref(ClickHouseType, ClickHouseUID)
	prometheusRef = ref(PrometheusType, PrometheusUID)
)

// SQLFormat is how the ClickHouse plugin turns a result into frames.
type SQLFormat int

// The plugin's formats, which are the Grafana plugin SDK's sqlutil
// FormatQueryOption values.
const (
	FormatTimeSeries SQLFormat = 0
	FormatTable      SQLFormat = 1
	FormatLogs       SQLFormat = 2
)

// SQLQuery is a raw SQL target of the ClickHouse plugin. The SDK has no
// type for this plugin, so it is declared here as the plugin stores it.
type SQLQuery struct {
	RefID      string               `json:"refId"`
	Datasource common.DataSourceRef `json:"datasource"`
	EditorType string               `json:"editorType"`
	QueryType  string               `json:"queryType"`
	Format     SQLFormat            `json:"format"`
	RawSQL     string               `json:"rawSql"`
}

func (SQLQuery) ImplementsDataqueryVariant() {}
func (SQLQuery) DataqueryType() string       { return ClickHouseType }
func (SQLQuery) Validate() error             { return nil }

// Equals compares two targets field by field.
func (q SQLQuery) Equals(other variants.Dataquery) bool { return reflect.DeepEqual(q, other) }

// sqlTarget is a builder of one SQLQuery, as the SDK's panels take them.
type sqlTarget SQLQuery

func (t sqlTarget) Build() (variants.Dataquery, error) { return SQLQuery(t), nil }

var queryTypes = map[SQLFormat]string{FormatTimeSeries: "timeSeries", FormatTable: "table", FormatLogs: "logs"}

// sql is a ClickHouse target of the given format.
func sql(format SQLFormat, query string) cog.Builder[variants.Dataquery] {
	return sqlTarget{RefID: "A", Datasource: clickhouseRef, EditorType: "sql", QueryType: queryTypes[format], Format: format, RawSQL: query}
}
