// Package bustest is the conformance suite for bus.Bus. Every
// implementation runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		bustest.Run(t, func(t testing.TB) bus.Bus { ... })
//	}
//
// Each scenario opens a fresh bus and works on topics and groups with
// random names ("bt-<hex>"), so a shared broker such as Kafka can run it
// with topics created on first use. Scenarios wait with require.Eventually
// and readiness handshakes, never with sleeps, and run in parallel.
package bustest
