package query

import (
	"math"
	"math/bits"
)

// The frames below are the JSON shapes of /v1/charts/{kind}, one per kind,
// documented in CHARTS.md. Each is ready to plot: every bucket is present,
// empty ones null, so a client never has to align or fill data.

// axis is the x axis of line, area and bar frames: unix ms times, or
// category labels.
type axis struct {
	Type   string `json:"type"` // "time" or "category"
	Values any    `json:"values"`
}

type frameSeries struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
	Values []*float64        `json:"values"` // one per x value, null when empty
}

// xyFrame is the frame of line, area and bar charts.
type xyFrame struct {
	Kind   string        `json:"kind"`
	X      axis          `json:"x"`
	Series []frameSeries `json:"series"`
}

type slice struct {
	Label string  `json:"label"`
	Value float64 `json:"value"`
}

type pieFrame struct {
	Kind   string  `json:"kind"`
	Slices []slice `json:"slices"`
}

type gaugeFrame struct {
	Kind  string   `json:"kind"`
	Value *float64 `json:"value"` // null when the range had no sample
	Min   float64  `json:"min"`
	Max   float64  `json:"max"`
	Unit  string   `json:"unit"`
}

type scatterAxis struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Unit string `json:"unit,omitempty"`
}

type scatterPoint struct {
	X  int64   `json:"x"`
	Y  float64 `json:"y"`
	ID string  `json:"id"`
}

type scatterFrame struct {
	Kind      string         `json:"kind"`
	X         scatterAxis    `json:"x"`
	Y         scatterAxis    `json:"y"`
	Points    []scatterPoint `json:"points"`
	Truncated bool           `json:"truncated"`
}

// heatmapFrame counts items per time bucket (x, bucket starts) and value
// bucket (y, lower bounds on a log2 scale: bucket j holds [Y[j], 2·Y[j])).
// Counts[i][j] is the count of x bucket i and y bucket j.
type heatmapFrame struct {
	Kind      string    `json:"kind"`
	X         []int64   `json:"x"`
	XStep     int64     `json:"x_step"`
	Y         []float64 `json:"y"`
	YScale    string    `json:"y_scale"`
	YUnit     string    `json:"y_unit"`
	Counts    [][]int64 `json:"counts"`
	Truncated bool      `json:"truncated"`
}

type column struct {
	Name string `json:"name"`
	Type string `json:"type"` // "time" (unix ms), "number" or "string"
}

type tableFrame struct {
	Kind      string   `json:"kind"`
	Columns   []column `json:"columns"`
	Rows      [][]any  `json:"rows"`
	Truncated bool     `json:"truncated"`
}

// timeData is what time-series sources load: a value or nil per bucket.
type timeData struct {
	Times  []int64
	Series []frameSeries
}

// categoryData is what categorical sources load: one value per label.
type categoryData struct {
	Name   string
	Labels []string
	Values []float64
}

func (d timeData) xy(kind string) xyFrame {
	return xyFrame{Kind: kind, X: axis{Type: "time", Values: d.Times}, Series: d.Series}
}

func (d categoryData) xy(kind string) xyFrame {
	values := make([]*float64, len(d.Values))
	for i := range d.Values {
		values[i] = &d.Values[i]
	}
	return xyFrame{Kind: kind, X: axis{Type: "category", Values: d.Labels},
		Series: []frameSeries{{Name: d.Name, Labels: map[string]string{}, Values: values}}}
}

func (d categoryData) pie() pieFrame {
	f := pieFrame{Kind: chartPie, Slices: make([]slice, len(d.Labels))}
	for i, l := range d.Labels {
		f.Slices[i] = slice{Label: l, Value: d.Values[i]}
	}
	return f
}

// gaugeOptions are the gauge's parameters; a nil Max means the highest
// value in range.
type gaugeOptions struct {
	Min  float64
	Max  *float64
	Unit string
}

// gauge shows the latest value of the first series.
func (d timeData) gauge(o gaugeOptions) gaugeFrame {
	f := gaugeFrame{Kind: chartGauge, Min: o.Min, Unit: o.Unit}
	peak := math.Inf(-1)
	if len(d.Series) > 0 {
		for _, v := range d.Series[0].Values {
			if v != nil {
				f.Value = v
				peak = max(peak, *v)
			}
		}
	}
	switch {
	case o.Max != nil:
		f.Max = *o.Max
	case peak > o.Min:
		f.Max = peak
	default:
		// Nothing above the minimum in range: any scale will do.
		f.Max = o.Min + 100
	}
	return f
}

func (d timeData) table() tableFrame {
	f := tableFrame{Kind: chartTable, Columns: []column{{Name: "time", Type: "time"}}, Rows: make([][]any, len(d.Times))}
	for _, s := range d.Series {
		f.Columns = append(f.Columns, column{Name: s.Name, Type: "number"})
	}
	for i, t := range d.Times {
		row := make([]any, 0, len(f.Columns))
		row = append(row, t)
		for _, s := range d.Series {
			row = append(row, s.Values[i])
		}
		f.Rows[i] = row
	}
	return f
}

func (d categoryData) table() tableFrame {
	f := tableFrame{Kind: chartTable, Columns: []column{{Name: "label", Type: "string"}, {Name: d.Name, Type: "number"}}, Rows: make([][]any, len(d.Labels))}
	for i, l := range d.Labels {
		f.Rows[i] = []any{l, d.Values[i]}
	}
	return f
}

func (d durationData) scatter() scatterFrame {
	f := scatterFrame{
		Kind:      chartScatter,
		X:         scatterAxis{Name: "ended_at", Type: "time"},
		Y:         scatterAxis{Name: "duration_ms", Type: "number", Unit: "ms"},
		Points:    make([]scatterPoint, len(d.Tasks)),
		Truncated: d.Truncated,
	}
	for i, t := range d.Tasks {
		f.Points[i] = scatterPoint{X: t.EndedAt, Y: float64(t.DurationMs), ID: t.TaskID}
	}
	return f
}

// heatmap buckets durations by powers of two milliseconds; durations under
// 1 ms count in the first bucket, [1, 2).
func (d durationData) heatmap() heatmapFrame {
	f := heatmapFrame{Kind: chartHeatmap, X: d.Window.times(), XStep: d.Window.Step, Y: []float64{}, YScale: "log2", YUnit: "ms", Truncated: d.Truncated}
	lo, hi := 64, -1
	for _, t := range d.Tasks {
		b := log2Bucket(t.DurationMs)
		lo, hi = min(lo, b), max(hi, b)
	}
	for b := lo; b <= hi; b++ {
		f.Y = append(f.Y, float64(uint64(1)<<b))
	}
	f.Counts = make([][]int64, len(f.X))
	for i := range f.Counts {
		f.Counts[i] = make([]int64, len(f.Y))
	}
	for _, t := range d.Tasks {
		if i, ok := d.Window.index(t.EndedAt); ok {
			f.Counts[i][log2Bucket(t.DurationMs)-lo]++
		}
	}
	return f
}

func log2Bucket(ms int64) int {
	return bits.Len64(uint64(max(ms, 1))) - 1
}

func (d durationData) table() tableFrame {
	f := tableFrame{
		Kind: chartTable,
		Columns: []column{{Name: "task_id", Type: "string"}, {Name: "task_type", Type: "string"},
			{Name: "status", Type: "string"}, {Name: "ended_at", Type: "time"}, {Name: "duration_ms", Type: "number"}},
		Rows:      make([][]any, len(d.Tasks)),
		Truncated: d.Truncated,
	}
	for i, t := range d.Tasks {
		f.Rows[i] = []any{t.TaskID, t.TaskType, t.Status, t.EndedAt, t.DurationMs}
	}
	return f
}
