// Package querybench times the store calls the query API and alerting
// make most, beside the same SQL run directly on the store's database,
// and then evaluates many alert rules once each.
package querybench
