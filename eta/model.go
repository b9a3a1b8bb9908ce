package eta

import (
	"sync"
	"time"

	"github.com/taskpulse/taskpulse/schema"
)

// edgeStep is the distance between edges, in percent of progress; edge i
// is at i*edgeStep, and edges counts 0 % to 90 % (at 100 % nothing is
// left).
const (
	edgeStep = 10
	edges    = 100 / edgeStep
)

// MinRuns is the fewest completed runs of a type (of a type and step)
// whose history an estimate trusts; with fewer, it falls back to the
// client's eta or the rate.
const MinRuns = 20

// Config bounds a Model's memory. Zero fields take the defaults.
type Config struct {
	// MaxTypes caps the task types learned per tenant (default 256);
	// runs of further types are not learned.
	MaxTypes int
	// MaxSteps caps the steps learned per type (default 16); runs still
	// count for their type.
	MaxSteps int
	// MaxRunning caps the running tasks followed per tenant (default
	// 10,000). When it is reached, tasks not heard of for Idle are
	// forgotten; if none was, new tasks are not followed.
	MaxRunning int
	// Idle is how long a followed task may go quiet (default 24h), by
	// event time.
	Idle time.Duration
}

func (c *Config) defaults() {
	if c.MaxTypes <= 0 {
		c.MaxTypes = 256
	}
	if c.MaxSteps <= 0 {
		c.MaxSteps = 16
	}
	if c.MaxRunning <= 0 {
		c.MaxRunning = 10_000
	}
	if c.Idle <= 0 {
		c.Idle = 24 * time.Hour
	}
}

// Model is what the completed runs of each tenant's task types tell of
// the time tasks take. It is safe for concurrent use. A nil *Model knows
// no history: its estimates come from the client or the rate.
type Model struct {
	cfg     Config
	mu      sync.Mutex
	tenants map[string]*tenant
}

// New returns an empty model.
func New(cfg Config) *Model {
	cfg.defaults()
	return &Model{cfg: cfg, tenants: map[string]*tenant{}}
}

// tenant is one tenant's history and followed tasks, apart from every
// other tenant's.
type tenant struct {
	types   map[string]*profile
	running map[string]*run // by task id
	newest  int64           // latest event time seen, unix ms
	// nextSweep is the earliest newest at which a full running may hold
	// an idle task, so that a full tenant is not swept at every event.
	nextSweep int64
}

// profile is the history of one task type: at each edge, the newest
// runs of the type, and the same runs by the step they were in there.
type profile struct {
	all   edgeWindows
	steps map[string]*edgeWindows
}

type edgeWindows [edges]*window

// at returns edge i's window, made on first use.
func (e *edgeWindows) at(i int) *window {
	if e[i] == nil {
		e[i] = &window{}
	}
	return e[i]
}

// Observe follows the task of one progress event, as the bus delivers
// them, and learns its run once it completes. It learns only runs it saw
// start, so it needs every event of a task from the first; events of a
// task that arrive late are ignored. While it follows the task it returns
// the task as it knows it, for an estimate to go with the event (a live
// update carries the event alone, without the task's start).
func (m *Model) Observe(p *schema.Progress) (Task, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ten := m.tenant(p.Tenant)
	ten.newest = max(ten.newest, p.Timestamp)
	r := ten.running[p.TaskID]
	switch {
	case p.Status == schema.StatusCompleted:
		if r != nil {
			delete(ten.running, p.TaskID)
			r.report(p.Timestamp, 100, p.CurrentStep)
			m.learn(ten, p.TaskID, r, p.Timestamp, true)
		}
		return Task{}, false
	case p.Status.Terminal():
		delete(ten.running, p.TaskID)
		return Task{}, false
	case r == nil:
		if p.Progress != nil && *p.Progress > edgeStep || !m.room(ten) {
			return Task{}, false // its start was missed, or there is no room
		}
		r = newRun(p)
		ten.running[p.TaskID] = r
	}
	r.observe(p)
	return Task{
		Tenant: p.Tenant, Type: r.taskType, Step: p.CurrentStep, Status: p.Status, Progress: r.lastP,
		Start: r.start, ProgressAt: r.lastT, UpdatedAt: p.Timestamp, ClientETA: p.ETA,
	}, true
}

// Seed learns the run of a completed task from its timeline, oldest
// event first, as a store returns it. Seeded runs only fill the room
// that runs observed left, so seed the newest first. It reports whether
// the timeline was a completed run it could learn.
func (m *Model) Seed(tenantID string, timeline []schema.Progress) bool {
	if len(timeline) < 2 || timeline[len(timeline)-1].Status != schema.StatusCompleted {
		return false
	}
	r := newRun(&timeline[0])
	for i := range timeline[:len(timeline)-1] {
		r.observe(&timeline[i])
	}
	last := &timeline[len(timeline)-1]
	r.report(last.Timestamp, 100, last.CurrentStep)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.learn(m.tenant(tenantID), last.TaskID, r, last.Timestamp, false)
}

// Runs returns how many completed runs of a tenant's task type the model
// holds, at most Window.
func (m *Model) Runs(tenantID, taskType string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ten := m.tenants[tenantID]; ten != nil {
		if prof := ten.types[taskType]; prof != nil && prof.all[0] != nil {
			return prof.all[0].n
		}
	}
	return 0
}

func (m *Model) tenant(id string) *tenant {
	ten := m.tenants[id]
	if ten == nil {
		ten = &tenant{types: map[string]*profile{}, running: map[string]*run{}}
		m.tenants[id] = ten
	}
	return ten
}

// room reports whether ten may follow one more task, forgetting idle
// ones if it must.
func (m *Model) room(ten *tenant) bool {
	if len(ten.running) < m.cfg.MaxRunning {
		return true
	}
	if ten.newest < ten.nextSweep {
		return false
	}
	idle := m.cfg.Idle.Milliseconds()
	oldest := ten.newest
	for id, r := range ten.running {
		if r.seen < ten.newest-idle {
			delete(ten.running, id)
		} else {
			oldest = min(oldest, r.seen)
		}
	}
	ten.nextSweep = oldest + idle
	return len(ten.running) < m.cfg.MaxRunning
}

// learn adds what run r of taskID, which ended at end, tells at every
// edge. With evict, it replaces the oldest runs of full windows. It
// reports whether the type took the run.
func (m *Model) learn(ten *tenant, taskID string, r *run, end int64, evict bool) bool {
	if r.taskType == "" || r.crossed < edges {
		return false
	}
	prof := ten.types[r.taskType]
	if prof == nil {
		if len(ten.types) >= m.cfg.MaxTypes {
			return false
		}
		prof = &profile{steps: map[string]*edgeWindows{}}
		ten.types[r.taskType] = prof
	}
	id := runID(taskID)
	took := false
	for i := range edges {
		s := sample{run: id, elapsed: float32(r.at[i] - r.start), remaining: float32(end - r.at[i])}
		if prof.all.at(i).add(s, evict) {
			took = true
		}
		if steps := m.stepWindows(prof, r.step[i]); steps != nil {
			steps.at(i).add(s, evict)
		}
	}
	return took
}

// stepWindows returns the windows of a step, made on first use while the
// type has room for it; nil for no step or no room.
func (m *Model) stepWindows(prof *profile, step string) *edgeWindows {
	if step == "" {
		return nil
	}
	w := prof.steps[step]
	if w == nil && len(prof.steps) < m.cfg.MaxSteps {
		w = &edgeWindows{}
		prof.steps[step] = w
	}
	return w
}

// run is a task followed from its start: when its progress crossed each
// edge, and in which step.
type run struct {
	taskType string
	started  bool  // a running event was seen: start is the first one's
	start    int64 // unix ms, as a task's started_at (else created_at)
	lastT    int64 // latest time progress was lastP
	lastP    float64
	crossed  int // edges crossed, in order
	at       [edges]int64
	step     [edges]string
	seen     int64 // latest event time
}

func newRun(p *schema.Progress) *run {
	r := &run{start: p.Timestamp, lastT: p.Timestamp, seen: p.Timestamp, crossed: 1}
	r.at[0], r.step[0] = p.Timestamp, p.CurrentStep
	return r
}

// observe folds in one event of the run.
func (r *run) observe(p *schema.Progress) {
	r.seen = max(r.seen, p.Timestamp)
	if p.TaskType != "" {
		r.taskType = p.TaskType
	}
	if p.Status == schema.StatusRunning && !r.started {
		// The run starts at its first running event, as the task's
		// started_at does; time spent pending before is not its own.
		r.started = true
		if r.crossed == 1 && p.Timestamp >= r.start {
			r.start, r.lastT, r.at[0] = p.Timestamp, p.Timestamp, p.Timestamp
		}
	}
	if r.step[0] == "" && r.crossed == 1 {
		r.step[0] = p.CurrentStep
	}
	if p.Progress != nil {
		r.report(p.Timestamp, *p.Progress, p.CurrentStep)
	}
}

// report records the edges a progress report crossed, placing each
// crossing in time between this report and the last one, in proportion.
// A report older than the last, or below its progress, changes nothing.
func (r *run) report(t int64, p float64, step string) {
	if t < r.lastT || p < r.lastP {
		return
	}
	for ; r.crossed < edges; r.crossed++ {
		e := float64(r.crossed * edgeStep)
		if p < e {
			break
		}
		at := t
		if p > r.lastP {
			at = r.lastT + int64((e-r.lastP)/(p-r.lastP)*float64(t-r.lastT))
		}
		r.at[r.crossed], r.step[r.crossed] = at, step
	}
	r.lastT, r.lastP = t, p
}

// taskOfEvent is the Task of a task whose latest event is p, its start
// and latest progress taken from the run m follows, if any; else p is
// taken for the start.
func (m *Model) taskOfEvent(p *schema.Progress) Task {
	t := Task{Tenant: p.Tenant, Type: p.TaskType, Step: p.CurrentStep, Status: p.Status,
		Start: p.Timestamp, UpdatedAt: p.Timestamp, ClientETA: p.ETA}
	if p.Progress != nil {
		t.Progress, t.ProgressAt = *p.Progress, p.Timestamp
	}
	if m == nil {
		return t
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if ten := m.tenants[p.Tenant]; ten != nil {
		if r := ten.running[p.TaskID]; r != nil {
			t.Start = r.start
			if p.Progress == nil {
				t.Progress, t.ProgressAt = r.lastP, r.lastT
			}
		}
	}
	return t
}
