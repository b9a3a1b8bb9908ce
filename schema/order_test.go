package schema

import "testing"

func TestOrderAfter(t *testing.T) {
	f := func(a, b Order, want bool) {
		t.Helper()
		if got := a.After(b); got != want {
			t.Errorf("%+v.After(%+v) = %v, want %v", a, b, got, want)
		}
	}
	base := Order{Timestamp: 10, Seq: 2, IngestOrder: 5, EventID: "b"}
	f(Order{Timestamp: 11}, base, true)
	f(Order{Timestamp: 9, Seq: 99, IngestOrder: 99, EventID: "z"}, base, false)
	f(Order{Timestamp: 10, Seq: 3}, base, true)
	f(Order{Timestamp: 10, Seq: 2, IngestOrder: 6}, base, true)
	f(Order{Timestamp: 10, Seq: 2, IngestOrder: 5, EventID: "c"}, base, true)
	f(Order{Timestamp: 10, Seq: 2, IngestOrder: 5, EventID: "a"}, base, false)
	f(base, base, false) // the same event is not after itself
}
