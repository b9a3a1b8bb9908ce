package client

// The wire forms of the three signals, as /v1/progress, /v1/logs and
// /v1/metrics take them. EventID and Timestamp (unix ms) are filled in
// when left empty.

// Progress is one report of a task's state.
type Progress struct {
	EventID     string            `json:"event_id,omitempty"`
	Timestamp   int64             `json:"timestamp,omitempty"`
	Seq         int64             `json:"seq,omitempty"`
	TaskID      string            `json:"task_id"`
	UserID      string            `json:"user_id,omitempty"`
	TaskType    string            `json:"task_type,omitempty"`
	TaskName    string            `json:"task_name,omitempty"`
	Status      string            `json:"status"`
	Progress    *float64          `json:"progress,omitempty"`
	CurrentStep string            `json:"current_step,omitempty"`
	StepsDone   int64             `json:"steps_done,omitempty"`
	StepsTotal  int64             `json:"steps_total,omitempty"`
	Message     string            `json:"message,omitempty"`
	ETA         *int64            `json:"eta,omitempty"` // seconds left
	Error       string            `json:"error,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
}

// Task statuses.
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusPaused    = "paused"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
)

// final reports whether a status ends a task: such an event is never
// dropped from a full queue.
func final(status string) bool {
	return status == StatusCompleted || status == StatusFailed || status == StatusCancelled
}

// Log is one log line, of a task when TaskID is set.
type Log struct {
	EventID    string            `json:"event_id,omitempty"`
	Timestamp  int64             `json:"timestamp,omitempty"`
	TaskID     string            `json:"task_id,omitempty"`
	UserID     string            `json:"user_id,omitempty"`
	Level      string            `json:"level"` // DEBUG, INFO, WARNING, ERROR or CRITICAL
	Message    string            `json:"message"`
	Source     string            `json:"source,omitempty"`
	TraceID    string            `json:"trace_id,omitempty"`
	SpanID     string            `json:"span_id,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Metric is one sample, of a task when TaskID is set.
type Metric struct {
	EventID   string            `json:"event_id,omitempty"`
	Timestamp int64             `json:"timestamp,omitempty"`
	Name      string            `json:"name"`
	Kind      string            `json:"kind,omitempty"` // gauge (the default) or counter
	Value     float64           `json:"value"`
	Unit      string            `json:"unit,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	TaskID    string            `json:"task_id,omitempty"`
}

// Percent is a progress value for Progress and Update, which take a
// pointer so that 0 can be told from absent.
func Percent(p float64) *float64 { return &p }
