// Package query serves TaskPulse's read API over HTTP: task listings, a
// task's current state with derived figures (duration, progress rate, ETA)
// and its timeline; log search; metric series with every bucket present
// and rates computed here from the store's last value per bucket; task
// statistics; chart frames ready to plot (CHARTS.md); saved dashboards;
// and exports that stream every row as CSV, JSON or NDJSON.
//
// Every read is scoped to the caller's tenant and goes to the store
// through small interfaces declared here (Reader, LogReader, SeriesReader,
// StatsReader, DashboardKeeper), which Store joins; the package neither
// knows nor cares which store backs it. Dashboard versions are the
// store's: an update or delete with If-Match hands the version to the
// store, which applies it only if it is still the stored one and answers
// store.ErrConflict otherwise, a 412 here, so If-Match holds across
// replicas of this service.
//
// Parameters are checked strictly: an unknown, empty or malformed
// parameter is a 400 that names it, never silently ignored, and an id or
// name is held to the rule ingest applies to that field. Dashboard bodies
// are decoded as strictly as ingest's, and panels are checked by the same
// code as chart requests, so a saved panel always draws. CSV exports
// neutralise text cells that a spreadsheet would run as formulas.
// Listings page with opaque cursors (next_cursor), which encode the
// position of the last item.
package query
