// Package channel delivers notifications outside TaskPulse: to webhooks
// (JSON or a template, signed with HMAC-SHA256), to Slack incoming
// webhooks, and by email over SMTP.
//
// A channel makes one attempt per Send and says, through *Error, whether
// and when another attempt may succeed; retrying, backing off and keeping
// the history of attempts is the caller's job, so that every channel
// behaves the same way under failure.
//
// Channels made by tenants reach the network only through a Policy,
// which keeps them from internal addresses, and render only templates
// CheckTenantTemplate accepts.
package channel
