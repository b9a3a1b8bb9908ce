// Package promtext reads the Prometheus text exposition format (version
// 0.0.4), the body a scraper or a pushing client sends to /v1/metrics as
// text/plain.
//
// Parse turns a body into schema.Metric samples the way a Prometheus
// scrape stores them (summaries and histograms expand through
// ingest/internal/samples), validates every sample as a JSON sample is
// validated, and names the line of every problem. expfmt does the parsing;
// because it drops some lines without a word and rewrites a summary's
// _count, a body that needs it is traced line by line, so that nothing is
// stored other than as sent. The package has no HTTP in it: the ingest
// handler decides the answer.
package promtext
