package schema

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEncodeProgressMatchesEncodingJSON(t *testing.T) {
	f := func(p Progress) {
		t.Helper()
		want, wantErr := json.Marshal(&p)
		got, err := EncodeProgress(&p)
		if wantErr != nil {
			require.EqualError(t, err, wantErr.Error())
			return
		}
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
	pct, eta := 42.5, int64(90)
	f(Progress{TaskID: "a", Status: StatusRunning})
	f(Progress{})
	f(Progress{
		Tenant: "acme", EventID: "e1", Timestamp: 1_700_000_000_000, Seq: 3, IngestOrder: -7,
		TaskID: "t", UserID: "u", TaskType: "tt", TaskName: "name", Status: StatusFailed,
		Progress: &pct, CurrentStep: "step", StepsDone: 1, StepsTotal: 2, Message: "m", ETA: &eta,
		Error: "boom", Attributes: map[string]string{"z": "1", "a": "2", "m": "<&>"},
	})
	f(Progress{TaskID: "q\"\\/\b\f\n\r\t\x00\x1f\x7f<>&\u2028\u2029é\xff\xc3", Attributes: map[string]string{}})
	for _, v := range []float64{0, math.Copysign(0, -1), 1e-7, 1e-6, 123456789, 1e20, 1e21, -1e-9, 5e-324, math.MaxFloat64, math.NaN(), math.Inf(-1)} {
		f(Progress{TaskID: "f", Progress: &v})
	}
}

func FuzzEncodeProgress(f *testing.F) {
	f.Add("t", "running", "m", "k", "v", 50.0, int64(1))
	f.Add("\xff<\u2028", "", "\x01\"", "", "\\", -0.0, int64(-1))
	f.Fuzz(func(t *testing.T, task, status, msg, key, value string, pct float64, n int64) {
		p := Progress{
			Tenant: key, EventID: value, Timestamp: n, Seq: -n, TaskID: task, Status: Status(status),
			Progress: &pct, Message: msg, ETA: &n, Attributes: map[string]string{key: value, value: msg},
		}
		want, wantErr := json.Marshal(&p)
		got, err := EncodeProgress(&p)
		if wantErr != nil {
			require.EqualError(t, err, wantErr.Error())
			return
		}
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
		// Consumers read every record back, so none may miss the fast path.
		back, ok := readProgress(got)
		require.True(t, ok, "the fast path declined %s", got)
		var slow Progress
		require.NoError(t, json.Unmarshal(got, &slow))
		require.Equal(t, slow, back)
	})
}

func TestAppendLogMatchesEncodingJSON(t *testing.T) {
	f := func(l Log) {
		t.Helper()
		want, err := json.Marshal(&l)
		require.NoError(t, err)
		require.Equal(t, string(want), string(AppendLog(nil, &l)))
	}
	f(Log{})
	f(Log{Level: LevelInfo, Message: "m"})
	f(*sampleLog())
	f(Log{Tenant: "t", IngestOrder: -1, Timestamp: -5, Message: "q\"\\/\b\f\n\r\t\x00\x1f\x7f<>&\u2028\u2029é\xff\xc3",
		Attributes: map[string]string{"\xff": "<", "": ""}})
	f(Log{Level: "x", Attributes: map[string]string{}})
}

func TestAppendMetricMatchesEncodingJSON(t *testing.T) {
	f := func(m Metric) {
		t.Helper()
		want, wantErr := json.Marshal(&m)
		got, err := AppendMetric(nil, &m)
		if wantErr != nil {
			require.EqualError(t, err, wantErr.Error())
			return
		}
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
	f(Metric{})
	f(*sampleMetric())
	f(Metric{Name: "n\u2028<", Kind: KindHistogram, Unit: "\xff", Labels: map[string]string{}, IngestOrder: -3})
	for _, v := range []float64{0, math.Copysign(0, -1), 1e-7, 1e-6, 123456789, 1e20, 1e21, -1e-9, 5e-324, math.MaxFloat64, math.NaN(), math.Inf(1)} {
		f(Metric{Name: "f", Value: v})
	}
}

func FuzzAppendLog(f *testing.F) {
	f.Add("t", "INFO", "m", "k", "v", int64(1))
	f.Add("\xff<\u2028", "", "\x01\"", "", "\\", int64(-1))
	f.Fuzz(func(t *testing.T, task, level, msg, key, value string, n int64) {
		l := Log{
			Tenant: key, EventID: value, Timestamp: n, IngestOrder: -n, TaskID: task, UserID: msg, Level: Level(level),
			Message: msg, Source: key, TraceID: task, SpanID: value, Attributes: map[string]string{key: value, value: msg},
		}
		want, err := json.Marshal(&l)
		require.NoError(t, err)
		got := AppendLog(nil, &l)
		require.Equal(t, string(want), string(got))
		// Consumers read every record back, so none may miss the fast path.
		back, ok := readLog(got)
		require.True(t, ok, "the fast path declined %s", got)
		var slow Log
		require.NoError(t, json.Unmarshal(got, &slow))
		require.Equal(t, slow, back)
	})
}

func FuzzAppendMetric(f *testing.F) {
	f.Add("n", "gauge", "u", "k", "v", 1.5, int64(1))
	f.Add("\xff<\u2028", "", "\x01\"", "", "\\", -0.0, int64(-1))
	f.Fuzz(func(t *testing.T, name, kind, unit, key, value string, v float64, n int64) {
		m := Metric{
			Tenant: key, EventID: value, Timestamp: n, IngestOrder: -n, Name: name, Kind: MetricKind(kind),
			Value: v, Unit: unit, Labels: map[string]string{key: value, value: unit}, TaskID: name,
		}
		want, wantErr := json.Marshal(&m)
		got, err := AppendMetric(nil, &m)
		if wantErr != nil {
			require.EqualError(t, err, wantErr.Error())
			return
		}
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
		back, ok := readMetric(got)
		require.True(t, ok, "the fast path declined %s", got)
		var slow Metric
		require.NoError(t, json.Unmarshal(got, &slow))
		require.Equal(t, slow, back)
	})
}

// loadgenProgress is a record shaped like loadgen's events after ingest
// has stamped them.
func loadgenProgress() Progress {
	pct := 42.0
	return Progress{
		Tenant: "default", EventID: "019ac2a4-5b6e-7c3d-9f00-0123456789ab", Timestamp: 1_700_000_000_000, Seq: 12345,
		IngestOrder: 1_700_000_000_000_000_000, TaskID: "load-345", UserID: "user-45", TaskType: "scrape_docs",
		TaskName: "Scrape documentation site 345", Status: StatusRunning, Progress: &pct, CurrentStep: "fetching pages",
		StepsDone: 42, StepsTotal: 100, Message: "fetched page 12345 of the documentation",
		Attributes: map[string]string{"source": "loadgen", "region": "local", "sent_ns": ""},
	}
}

func BenchmarkEncodeProgress(b *testing.B) {
	p := loadgenProgress()
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf, _ = AppendProgress(buf[:0], &p)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeProgress(b *testing.B) {
	p := loadgenProgress()
	rec, err := EncodeProgress(&p)
	require.NoError(b, err)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeProgress(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// sampleLog is a log record as ingest publishes it.
func sampleLog() *Log {
	return &Log{
		Tenant: "default", EventID: "019ac2a4-5b6e-7c3d-9f00-0123456789ab", Timestamp: 1_700_000_000_000,
		IngestOrder: 1_700_000_000_000_000_000, TaskID: "load-345", UserID: "user-45", Level: LevelInfo,
		Message: "fetched page 12345 of the documentation in 42 ms", Source: "scraper", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID: "00f067aa0ba902b7", Attributes: map[string]string{"source": "loadgen", "region": "local"},
	}
}

// sampleMetric is a metric sample as ingest publishes it.
func sampleMetric() *Metric {
	return &Metric{
		Tenant: "default", EventID: "019ac2a4-5b6e-7c3d-9f00-0123456789ab", Timestamp: 1_700_000_000_000,
		IngestOrder: 1_700_000_000_000_000_000, Name: "pages_fetched_total", Kind: KindCounter, Value: 12345,
		Unit: "pages", Labels: map[string]string{"source": "loadgen", "region": "local"}, TaskID: "load-345",
	}
}

func BenchmarkAppendLog(b *testing.B) {
	l := sampleLog()
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf = AppendLog(buf[:0], l)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeLog(b *testing.B) {
	rec, err := EncodeLog(sampleLog())
	require.NoError(b, err)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeLog(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMetric(b *testing.B) {
	rec, err := EncodeMetric(sampleMetric())
	require.NoError(b, err)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeMetric(rec); err != nil {
			b.Fatal(err)
		}
	}
}
