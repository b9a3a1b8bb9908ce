package schema

// Order is where an event stands among the events of its task: by
// timestamp, then the client's seq, then ingest order, then event id,
// each compared in turn. A task's current state is its event with the
// greatest Order; the stores, the stream and alerting all compare by it.
type Order struct {
	Timestamp   int64
	Seq         int64
	IngestOrder int64
	// EventID compares as bytes, as the stores compare strings.
	EventID string
}

// Order returns p's place in its task's order.
func (p *Progress) Order() Order {
	return Order{Timestamp: p.Timestamp, Seq: p.Seq, IngestOrder: p.IngestOrder, EventID: p.EventID}
}

// After reports whether o comes strictly after prev.
func (o Order) After(prev Order) bool {
	switch {
	case o.Timestamp != prev.Timestamp:
		return o.Timestamp > prev.Timestamp
	case o.Seq != prev.Seq:
		return o.Seq > prev.Seq
	case o.IngestOrder != prev.IngestOrder:
		return o.IngestOrder > prev.IngestOrder
	default:
		return o.EventID > prev.EventID
	}
}
