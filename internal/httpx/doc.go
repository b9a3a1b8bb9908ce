// Package httpx holds what TaskPulse's HTTP services share: the one JSON
// error shape every endpoint answers with, and the Fiber app settings they
// all run under.
package httpx
