// Package query serves TaskPulse's read API over HTTP: task listings, a
// task's current state with derived figures (duration, progress rate, ETA),
// and its timeline of events. Every read is scoped to the caller's tenant
// and goes to the store through the small Reader interface; the package
// neither knows nor cares which store backs it.
//
// Parameters are checked strictly: an unknown or malformed parameter is a
// 400 that names it, never silently ignored. Listings page with opaque
// cursors (next_cursor), which encode the position of the last item.
package query
