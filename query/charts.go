package query

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
)

// The chart kinds of /v1/charts/{kind} and of dashboard panels.
const (
	chartLine    = "line"
	chartArea    = "area"
	chartBar     = "bar"
	chartPie     = "pie"
	chartScatter = "scatter"
	chartGauge   = "gauge"
	chartHeatmap = "heatmap"
	chartTable   = "table"
)

var chartKinds = []string{chartLine, chartArea, chartBar, chartPie, chartScatter, chartGauge, chartHeatmap, chartTable}

// defaultSources is the source of a chart whose request names none.
var defaultSources = map[string]string{
	chartLine: sourceMetric, chartArea: sourceMetric, chartBar: sourceMetric,
	chartGauge: sourceMetric, chartTable: sourceMetric,
	chartPie:     sourceTasksByStatus,
	chartScatter: sourceTaskDurations, chartHeatmap: sourceTaskDurations,
}

// gaugeParams shape a gauge; other kinds take only their source's.
var gaugeParams = []string{"min", "max", "unit"}

// chartPlan is a checked chart request, ready to read and draw.
type chartPlan struct {
	kind   string
	source source
	load   loader
	gauge  gaugeOptions
}

// planChart checks a chart request: its kind, its source and every
// parameter, as the handler and dashboard validation both need.
func (s *Service) planChart(kind string, args map[string][]string, tenant string, now int64) (chartPlan, error) {
	plan := chartPlan{kind: kind}
	if !slices.Contains(chartKinds, kind) {
		return plan, httpx.BadParameter("kind", "must be one of "+strings.Join(chartKinds, ", "))
	}
	name := defaultSources[kind]
	switch given := args["source"]; {
	case len(given) > 1:
		return plan, httpx.BadParameter("source", "must be given once")
	case len(given) == 1:
		name = given[0]
	}
	src, ok := sources[name]
	if !ok {
		return plan, httpx.BadParameter("source", "must be one of "+strings.Join(slices.Sorted(maps.Keys(sources)), ", "))
	}
	if !slices.Contains(src.kinds, kind) {
		return plan, httpx.BadParameter("source", name+" cannot be drawn as "+kind+"; it draws as "+strings.Join(src.kinds, ", "))
	}
	plan.source = src
	known := append([]string{"source"}, src.params...)
	if kind == chartGauge {
		known = append(known, gaugeParams...)
	}
	p, err := paramsFrom(args, known...)
	if err != nil {
		return plan, err
	}
	if kind == chartGauge {
		if plan.gauge, err = p.gaugeOptions(); err != nil {
			return plan, err
		}
	}
	plan.load, err = src.prepare(s, p, tenant, now)
	return plan, err
}

func (p *params) gaugeOptions() (gaugeOptions, error) {
	var o gaugeOptions
	var err error
	if o.Unit, err = p.Str("unit"); err != nil {
		return o, err
	}
	if s, err := p.Str("min"); err != nil {
		return o, err
	} else if s != "" {
		if o.Min, err = strconv.ParseFloat(s, 64); err != nil || !finite(o.Min) {
			return o, httpx.BadParameter("min", "must be a number")
		}
	}
	if s, err := p.Str("max"); err != nil {
		return o, err
	} else if s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || !finite(v) || v <= o.Min {
			return o, httpx.BadParameter("max", "must be a number above min")
		}
		o.Max = &v
	}
	return o, nil
}

// draw turns a source's data into the kind's frame. planChart allows only
// the pairs handled here.
func (plan chartPlan) draw(data any) any {
	switch d := data.(type) {
	case timeData:
		switch plan.kind {
		case chartGauge:
			return d.gauge(plan.gauge)
		case chartTable:
			return d.table()
		default:
			return d.xy(plan.kind)
		}
	case categoryData:
		switch plan.kind {
		case chartPie:
			return d.pie()
		case chartTable:
			return d.table()
		default:
			return d.xy(plan.kind)
		}
	case durationData:
		switch plan.kind {
		case chartScatter:
			return d.scatter()
		case chartHeatmap:
			return d.heatmap()
		default:
			return d.table()
		}
	}
	panic("BUG: a source loaded data no chart draws")
}

func (s *Service) chart(c *fiber.Ctx) error {
	plan, err := s.planChart(c.Params("kind"), httpx.QueryArgs(c), auth.Tenant(c), s.now().UnixMilli())
	if err != nil {
		return err
	}
	data, err := plan.load(c.UserContext())
	if err != nil {
		return s.storeError(err)
	}
	return c.JSON(plan.draw(data))
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
