// Package alerting turns what TaskPulse sees into alerts and tells people
// about them, in the manner of Prometheus rules with Alertmanager.
//
// # Rules
//
// A rule has a kind: task_failed, task_stalled and task_slow watch tasks;
// metric_threshold and error_log_rate query the store. Rules come from a
// YAML file (read at start and by Reload; a file with any problem is
// refused whole and the rules before it keep running) and from the API,
// which keeps them as "alert_rule" documents; rules of the file are
// read-only through the API.
//
// # Channels and tenants
//
// The channels of the rules file are the operator's: its rules may use
// any of them, and a rule made through the API only those the file
// shares with the rule's tenant (tenants: [...], "*" for all). Tenants
// make their own channels through the API ("alert_channel" documents,
// named within the tenant); answers redact their secrets. A tenant's
// channel may not reach internal addresses unless the operator allows
// them (Config.ChannelAllow, ChannelDeny): channel.Policy checks the
// host when the channel is made and the address of every connection.
// Which channel a name means is decided again at every delivery, so a
// channel unshared or deleted stops delivering at once.
//
// # Evaluation
//
// Task rules follow the progress topic (Subscribe: every process sees
// every event) and a short ticker for what no event announces, such as a
// stall; the running tasks are read from the store at start. Query rules
// run on their own interval, each evaluation covering the slot that ends
// at a multiple of the interval.
//
// Each rule has one alert per group key (the task for task rules, the
// label values for metric rules): inactive, pending while its condition
// holds for less than the rule's for, firing, then resolved. Alerts are
// kept as "alert_state" documents, so a restart continues them. Every
// time in an alert comes from the data (an event's timestamp, a slot),
// never from the clock of the process, so two processes evaluating the
// same data reach the same alerts.
//
// # Notifications
//
// A transition worth telling (firing, a repeat after repeat_interval,
// resolved when the rule asks) becomes a schema.Notification whose id
// hashes the tenant, rule, group key, transition and its time. It is
// stored as a "notification" document and published on the
// notifications topic, unless a silence holds it back. A transition
// counts as told only once published, so a failed publish is retried at
// the next evaluation with the same id.
//
// # Delivery
//
// The alerting processes consume the notifications topic in one group, so
// each notification is delivered by one of them, on each of its channels
// (package channel), each channel on its own. Every attempt is appended
// to the notification's delivery history before the next, with
// exponential backoff and jitter, honouring Retry-After, until sent or
// given up. The record is committed only then; a process stopped half way
// leaves it to be redelivered, and the next owner resumes from the stored
// history, skipping what was sent.
//
// # Parts
//
// Service joins three parts that share only the rules in force (registry)
// and the store. The evaluator moves alerts and hands each notification
// to a notifyFunc; the deliverer is that function (store, then publish)
// and delivers what it consumes; the API serves rules, silences, channels,
// alerts (through an alertsFunc) and notifications. No lock is held
// across a store or bus call: an evaluation plans its moves under the
// evaluator's lock, stores and publishes without it, then commits.
package alerting
