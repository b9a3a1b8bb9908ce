// A task's own page, /tasks/{id}: its state in words, its control
// request, its timeline, its logs (the newest from GET
// /v1/tasks/{id}/logs, older ones page by page through its cursor, then
// live from the stream, with a level filter and a search), a chart of
// each metric reported with its task_id (listed by GET
// /v1/tasks/{id}/metrics, drawn again as the task moves on), its
// notifications, and cancel, pause and resume where the server has them
// and the key may use them.
import { APIError, api, stream } from "./app.js";
import { draw } from "./charts.js";
import { controlState, sendControl, usableControls } from "./control.js";
import { durationWords, h, notice, progressBar, statusBadge, timeEl } from "./ui.js";

const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
const ACTIVE = new Set(["pending", "running", "paused"]);
// A page of history, the most the logs API gives at once.
const LOG_PAGE = 1000;
// The log panel holds at most this many, history and live, besides the
// older pages a person asks for.
const MAX_LOGS = 2000;
// The most metrics charted; the list is by name.
const MAX_METRICS = 50;
// How often, at most, the metric charts are read again: while the task
// is active, and after the task changed.
const METRICS_EVERY = 5000;

export default function taskPage(view, id) {
  const base = `/v1/tasks/${encodeURIComponent(id)}`;
  let task = null;
  let controlsFor = ""; // the status the controls were drawn for
  let logs = []; // oldest first
  const seenLogs = new Set();
  // Where the logs before the oldest held start: the API's cursor, or a
  // time (exclusive) once live logs pushed the oldest out; null when
  // there are none.
  let older = null;
  let maxLogs = MAX_LOGS;
  const cleanups = [];

  const title = h("h2", { class: "task-title" }, id);
  const facts = h("dl", { class: "facts" });
  const controls = h("div", { class: "controls", role: "group", "aria-label": "Control the task" });
  const controlNote = h("p", { class: "muted", role: "status" });
  const timeline = h("ol", { class: "timeline", id: "timeline" });
  const level = h("select", { id: "log-level" }, ...LEVELS.map((l) => h("option", { selected: l === "DEBUG" }, l)));
  const logSearch = h("input", { id: "log-search", type: "search", autocomplete: "off" });
  const logList = h("ol", { id: "task-logs", class: "logs", "aria-live": "polite", "aria-label": "Logs", tabindex: "0" });
  const olderBtn = h("button", { type: "button", id: "load-older", hidden: true, onclick: () => loadOlder() }, "Load older logs");
  const logNote = h("p", { class: "muted", role: "status", id: "logs-status" });
  const metricList = h("ul", { class: "task-metrics", id: "task-metrics", "aria-label": "Metrics of this task" });
  const metricNote = h("p", { class: "muted", role: "status", id: "metrics-status" });
  const notes = h("ul", { class: "notes", id: "task-notes" });

  view.append(
    h("p", {}, h("a", { href: "/tasks" }, "← All tasks")),
    title,
    h("section", { class: "card", "aria-label": "State" }, facts, controls, controlNote),
    h("div", { class: "columns" },
      h("section", { class: "card", "aria-labelledby": "tl-title" }, h("h3", { id: "tl-title" }, "Timeline"), timeline),
      h("section", { class: "card", "aria-labelledby": "notes-title" }, h("h3", { id: "notes-title" }, "Notifications"), notes),
    ),
    h("section", { class: "card", "aria-labelledby": "logs-title" },
      h("h3", { id: "logs-title" }, "Logs"),
      h("div", { class: "filters" }, h("label", {}, "Minimum level ", level), h("label", {}, "Search ", logSearch), olderBtn),
      logNote,
      logList,
    ),
    h("section", { class: "card", "aria-labelledby": "metrics-title" },
      h("h3", { id: "metrics-title" }, "Metrics"),
      metricNote,
      metricList,
    ),
  );

  // --- state ------------------------------------------------------------------

  function showTask(t) {
    task = t;
    const name = t.task_name || t.task_id;
    title.replaceChildren(name, " ", statusBadge(t.status));
    document.title = `${name} · TaskPulse`;
    const fact = (k, ...v) => [h("dt", {}, k), h("dd", {}, ...v)];
    const started = t.started_at ?? t.created_at;
    const ended = ACTIVE.has(t.status) ? Date.now() : t.updated_at;
    const seconds = (ended - started) / 1000;
    const rate = t.progress_rate ?? (seconds > 0 && t.progress ? t.progress / seconds : null);
    facts.replaceChildren(
      ...fact("Progress", progressBar(t.progress, t.status, `Progress of ${name}`)),
      ...fact("Task id", h("code", { class: "wrap" }, t.task_id)),
      ...(t.task_type ? fact("Type", t.task_type) : []),
      ...(t.user_id ? fact("User", t.user_id) : []),
      ...fact("Started", started ? timeEl(started, true) : "—"),
      ...fact("Duration", started ? durationWords(seconds) : "—"),
      ...fact("Rate", rate ? `${(rate * 60).toFixed(1)} % a minute` : "—"),
      ...fact("Time left", etaWords(t)),
      ...fact("Step", (t.current_step || "—") + (t.steps_total ? ` (${t.steps_done || 0} of ${t.steps_total})` : "")),
      ...(t.message ? fact("Message", t.message) : []),
      ...(t.error ? fact("Error", h("span", { class: "error" }, t.error)) : []),
      ...controlFact(t),
    );
    // Redrawn only when the status changes, so a focused button stays put.
    if (controlsFor !== t.status) drawControls();
  }

  function controlFact(t) {
    const c = controlState(t.control, Date.now());
    return c ? [h("dt", {}, "Control"), h("dd", {}, h("span", { class: "control-state", "data-state": c.state }, c.text))] : [];
  }

  function etaWords(t) {
    if (!ACTIVE.has(t.status)) return t.status === "completed" ? "done" : "—";
    if (t.eta_overdue) return "overdue: the estimate has run out";
    if (typeof t.eta !== "number") return "not known yet";
    const left = t.eta - (Date.now() - t.updated_at) / 1000;
    return left > 0 ? `${durationWords(left)} left` : "any moment now";
  }

  async function drawControls() {
    if (!task) return;
    controlsFor = task.status;
    const usable = await usableControls(task.status);
    controls.replaceChildren(...usable.map((c) => h("button", { type: "button", "data-op": c.op, onclick: () => control(c) }, c.label)));
  }

  async function control(c) {
    controlNote.textContent = `${c.label}: asking…`;
    const r = await sendControl(api, id, c);
    controlNote.textContent = r.text;
    if (r.refused) drawControls();
    if (r.ok) await refresh();
  }

  async function refresh() {
    try {
      showTask(await api(base));
    } catch (e) {
      facts.replaceChildren(notice(e instanceof APIError && e.status === 404 ? `There is no task ${id}.` : `The task could not be read: ${e.message}`, true));
    }
  }

  // --- timeline -----------------------------------------------------------------

  function addEvent(e) {
    timeline.append(
      h("li", { "data-status": e.status }, timeEl(e.timestamp ?? e.updated_at), " ", statusBadge(e.status), " ",
        e.progress !== undefined ? `${Math.round(e.progress * 10) / 10}%` : "", e.current_step ? ` · ${e.current_step}` : "",
        e.message ? ` · ${e.message}` : "", e.error ? h("span", { class: "error" }, ` · ${e.error}`) : null),
    );
  }

  async function loadEvents() {
    try {
      const { events } = await api(`${base}/events?limit=1000`);
      events.sort((a, b) => a.timestamp - b.timestamp || (a.seq ?? 0) - (b.seq ?? 0));
      timeline.replaceChildren();
      events.forEach(addEvent);
      if (!events.length) timeline.append(h("li", { class: "muted" }, "No events yet."));
    } catch (e) {
      timeline.replaceChildren(h("li", { class: "error" }, `Events could not be read: ${e.message}`));
    }
  }

  // --- logs ---------------------------------------------------------------------

  // keepLog adds a live log after the others; past the cap the oldest go,
  // and the history before them is read again from their time.
  function keepLog(l) {
    if (l.event_id && seenLogs.has(l.event_id)) return false;
    if (l.event_id) seenLogs.add(l.event_id);
    logs.push(l);
    if (logs.length > maxLogs) {
      for (const gone of logs.splice(0, logs.length - maxLogs)) seenLogs.delete(gone.event_id);
      older = { until: logs[0].timestamp + 1 };
      olderBtn.hidden = false;
    }
    return true;
  }

  function logShown(l) {
    const text = logSearch.value.trim().toLowerCase();
    return LEVELS.indexOf(l.level) >= LEVELS.indexOf(level.value) && (!text || l.message.toLowerCase().includes(text) || (l.source ?? "").toLowerCase().includes(text));
  }

  const logItem = (l) =>
    h("li", { "data-level": l.level }, timeEl(l.timestamp), h("span", { class: "level" }, l.level), l.source ? h("span", { class: "source" }, l.source) : null, h("span", { class: "text" }, l.message));

  function drawLogs() {
    const shown = logs.filter(logShown);
    logList.replaceChildren(...shown.map(logItem));
    if (!shown.length) logList.append(h("li", { class: "notice" }, logs.length ? "No log matches." : "No logs yet."));
    logList.scrollTop = logList.scrollHeight;
  }

  function liveLog(l) {
    if (l.task_id !== id || !keepLog(l) || !logShown(l)) return;
    const atEnd = logList.scrollTop + logList.clientHeight >= logList.scrollHeight - 4;
    logList.querySelector(".notice")?.remove();
    logList.append(logItem(l));
    while (logList.children.length > maxLogs) logList.firstElementChild.remove();
    if (atEnd) logList.scrollTop = logList.scrollHeight;
  }

  // readLogs reads one page of history, newest first, from where older
  // says, and answers it oldest first without the logs held already.
  async function readLogs() {
    const q = new URLSearchParams({ limit: String(LOG_PAGE) });
    if (older?.cursor) q.set("cursor", older.cursor);
    if (older?.until) q.set("until", String(older.until));
    const page = await api(`${base}/logs?${q}`);
    older = page.next_cursor ? { cursor: page.next_cursor } : null;
    olderBtn.hidden = !older;
    return page.logs.reverse().filter((l) => !seenLogs.has(l.event_id));
  }

  async function loadLogs() {
    try {
      const history = await readLogs();
      // Live logs that came first stay; the history goes before them.
      const live = logs;
      logs = [];
      seenLogs.clear();
      [...history, ...live].forEach(keepLog);
      drawLogs();
    } catch (e) {
      logList.replaceChildren(h("li", { class: "notice" }, `Logs could not be read: ${e.message}`));
    }
  }

  // loadOlder puts the page before the oldest log on top, keeping in
  // sight the lines that were.
  async function loadOlder() {
    olderBtn.disabled = true;
    logNote.textContent = "Reading older logs…";
    try {
      const page = await readLogs();
      page.forEach((l) => seenLogs.add(l.event_id));
      logs = [...page, ...logs];
      maxLogs += page.length;
      const fromEnd = logList.scrollHeight - logList.scrollTop;
      drawLogs();
      logList.scrollTop = logList.scrollHeight - fromEnd;
      logNote.textContent = `${page.length.toLocaleString()} older logs read${older ? "" : "; there are no older ones"}.`;
    } catch (e) {
      logNote.textContent = `Older logs could not be read: ${e.message}`;
    }
    olderBtn.disabled = false;
  }

  level.addEventListener("change", drawLogs);
  logSearch.addEventListener("input", drawLogs);

  // --- metrics ------------------------------------------------------------------

  // One chart per metric, by name, kept across reads so that a redraw
  // replaces a chart in place.
  const charts = new Map(); // name -> { item, head, box, free }
  let metricsBusy = false;
  let metricsAgain = false;
  let metricsDirty = false;
  let metricsRead = 0;
  let left = false; // the page was left: draw nothing more

  // A counter's total is charted as it grew; other metrics by their
  // average per bucket.
  const metricAgg = (m) => (m.kind === "counter" ? "last" : "avg");

  // metricWindow runs from the task's start (or its first sample) to now
  // while it runs, else to its last change or sample.
  function metricWindow(m) {
    const start = task?.started_at ?? task?.created_at ?? m.first;
    const from = Math.min(start, m.first);
    const to = task && ACTIVE.has(task.status) ? Math.max(Date.now(), m.last + 1) : Math.max(m.last, task?.updated_at ?? 0) + 1;
    return { from, to };
  }

  function chartSlot(name) {
    let c = charts.get(name);
    if (!c) {
      const head = h("h4", { class: "metric-head" });
      const box = h("div", { class: "panel-body" });
      c = { item: h("li", { class: "task-metric", "data-metric": name }, head, box), head, box, free: () => {} };
      charts.set(name, c);
    }
    return c;
  }

  async function drawMetric(m) {
    const c = chartSlot(m.name);
    const agg = metricAgg(m);
    const samples = `${m.samples.toLocaleString()} sample${m.samples === 1 ? "" : "s"}`;
    c.head.replaceChildren(h("code", {}, m.name), " ", h("span", { class: "muted" }, [m.kind, m.unit, samples, agg].filter(Boolean).join(" · ")));
    const { from, to } = metricWindow(m);
    const q = new URLSearchParams({ source: "metric", name: m.name, task_id: id, agg, from: String(from), to: String(to) });
    try {
      const frame = await api(`/v1/charts/line?${q}`);
      const free = await draw(c.box, frame, `${m.name} of ${id}`);
      c.free();
      c.free = free;
    } catch (e) {
      c.free();
      c.free = () => {};
      c.box.replaceChildren(notice(`${m.name} could not be charted: ${e.message}`, true));
    }
  }

  // loadMetrics lists the task's metrics and draws each; a call while one
  // runs makes it run once more when it ends.
  async function loadMetrics() {
    if (left) return;
    if (metricsBusy) {
      metricsAgain = true;
      return;
    }
    metricsBusy = true;
    metricsRead = Date.now();
    try {
      const { metrics } = await api(`${base}/metrics?limit=${MAX_METRICS}`);
      const names = new Set(metrics.map((m) => m.name));
      for (const [name, c] of charts) {
        if (names.has(name)) continue;
        c.free();
        c.item.remove();
        charts.delete(name);
      }
      metricList.append(...metrics.map((m) => chartSlot(m.name).item));
      metricNote.textContent = !metrics.length
        ? "No metric samples carry this task's task_id yet."
        : metrics.length === MAX_METRICS
          ? `The first ${MAX_METRICS} metrics by name.`
          : "";
      await Promise.all(metrics.map(drawMetric));
    } catch (e) {
      metricNote.textContent = `Metrics could not be read: ${e.message}`;
    }
    metricsBusy = false;
    if (metricsAgain) {
      metricsAgain = false;
      loadMetrics();
    }
  }

  const metricsTick = setInterval(() => {
    if (Date.now() - metricsRead < METRICS_EVERY) return;
    if (!metricsDirty && !(task && ACTIVE.has(task.status))) return;
    metricsDirty = false;
    loadMetrics();
  }, 1000);
  cleanups.push(() => {
    left = true;
    clearInterval(metricsTick);
    charts.forEach((c) => c.free());
  });

  // --- notifications ------------------------------------------------------------

  function addNote(n, live) {
    if (n.task_id !== id) return;
    notes.querySelector(".muted")?.remove();
    const li = h("li", { "data-severity": n.severity }, h("strong", {}, n.title || n.rule), " ", timeEl(n.created_at), h("div", {}, n.body));
    if (live) notes.prepend(li);
    else notes.append(li);
  }

  async function loadNotes() {
    try {
      const { notifications } = await api("/v1/notifications?limit=1000");
      notifications.forEach((n) => addNote(n, false));
    } catch {
      // The alerting service may not run here; the page works without it.
    }
    if (!notes.children.length) notes.append(h("li", { class: "muted" }, "None."));
  }

  // --- live -----------------------------------------------------------------------

  cleanups.push(
    stream.on("task", ({ task: t, removed }) => {
      if (t.task_id !== id) return;
      if (removed && t.status === "deleted") {
        facts.replaceChildren(notice("This task was deleted.", true));
        return;
      }
      if (removed) return;
      if (task && t.updated_at > task.updated_at) addEvent(t);
      metricsDirty = true;
      // A request answered or withdrawn leaves no control in the message.
      showTask({ ...task, ...t, control: t.control });
    }),
    stream.on("log", liveLog),
    stream.on("notification", (n) => addNote(n, true)),
  );
  stream.subscribe({ task_id: id });
  stream.subscribe({ logs: { task_id: id, min_level: "DEBUG" } });

  // The charts' range starts with the task, so they wait for it.
  refresh().then(loadMetrics);
  loadEvents();
  loadLogs();
  loadNotes();
  const tick = setInterval(() => task && ACTIVE.has(task.status) && showTask(task), 5000);

  return () => {
    clearInterval(tick);
    cleanups.forEach((f) => f());
    stream.unsubscribe({ task_id: id });
    stream.unsubscribe({ logs: { task_id: id } });
  };
}
