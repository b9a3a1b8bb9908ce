package stream

import (
	"time"

	"github.com/taskpulse/taskpulse/eta"
	"github.com/taskpulse/taskpulse/internal/control"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// Progress messages and snapshots carry, beside a task's stored fields,
// what the query API adds to them: the ETA estimated at the time the
// message is encoded, and the task's control request. Both are computed
// once per message, which every connection shares.

// eventOut is a progress event as a message shows it. Its fields shadow
// the event's eta, which is the client's and not the estimate.
type eventOut struct {
	*schema.Progress
	ETA        *int64        `json:"eta,omitempty"`
	ETAOverdue bool          `json:"eta_overdue,omitempty"`
	ETAP50     *int64        `json:"eta_p50,omitempty"`
	ETAP90     *int64        `json:"eta_p90,omitempty"`
	ETASource  eta.Source    `json:"eta_source,omitempty"`
	Control    *control.View `json:"control,omitempty"`
}

// taskOut is a task of a snapshot, with the same fields as eventOut.
type taskOut struct {
	store.Task
	ETA        *int64        `json:"eta,omitempty"`
	ETAOverdue bool          `json:"eta_overdue,omitempty"`
	ETAP50     *int64        `json:"eta_p50,omitempty"`
	ETAP90     *int64        `json:"eta_p90,omitempty"`
	ETASource  eta.Source    `json:"eta_source,omitempty"`
	Control    *control.View `json:"control,omitempty"`
}

// renderer adds the estimate and the control request to tasks. A zero
// renderer estimates from the client or the rate and knows no requests.
type renderer struct {
	eta     *eta.Tracker
	control *control.Registry
}

// event renders p, whose tenant is set; out.Progress is p.
func (r renderer) event(p *schema.Progress) eventOut {
	now := time.Now().UnixMilli()
	e := r.eta.EstimateEvent(p, now)
	out := eventOut{Progress: p, ETA: e.ETA, ETAOverdue: e.Overdue, ETAP50: e.P50, ETAP90: e.P90, ETASource: e.Source}
	out.Control = r.control.View(p.Tenant, p.TaskID, now)
	return out
}

// tasks renders a snapshot's tasks, of tenant.
func (r renderer) tasks(tenant string, tasks []store.Task) []taskOut {
	now := time.Now().UnixMilli()
	out := make([]taskOut, len(tasks))
	for i, t := range tasks {
		t.Tenant = tenant
		e := r.eta.Estimate(eta.TaskOf(&t), now)
		out[i] = taskOut{Task: t, ETA: e.ETA, ETAOverdue: e.Overdue, ETAP50: e.P50, ETAP90: e.P90, ETASource: e.Source,
			Control: r.control.View(tenant, t.TaskID, now)}
	}
	return out
}
