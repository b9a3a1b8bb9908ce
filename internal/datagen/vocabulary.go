package datagen

// The data set's names, which queries of it pick from so that they find
// something.

// MetricShape is a metric the workers report: one series per host, per
// task type, or both.
type MetricShape struct {
	Name           string
	ByHost, ByType bool
}

// Metrics are the metrics datagen writes.
func Metrics() []MetricShape {
	out := make([]MetricShape, len(metricDefs))
	for i, d := range metricDefs {
		out[i] = MetricShape{Name: d.name, ByHost: d.byHost, ByType: d.byType}
	}
	return out
}

// TaskTypes are the task types of the jobs, most frequent first.
func TaskTypes() []string {
	out := make([]string, len(taskKinds))
	for i, k := range taskKinds {
		out[i] = k.name
	}
	return out
}

// LogSources are the sources of the log lines, one per line, so that a
// random pick is weighted as the lines are.
func LogSources() []string {
	out := make([]string, len(logLines))
	for i, l := range logLines {
		out[i] = l.source
	}
	return out
}

// Sites are the documentation sites jobs work on, most popular first.
func Sites() []string { return append([]string(nil), docSites...) }
