// The live page: follows the tasks named by the page's address, the logs of
// the task the user picks and the notifications of the tenant or user,
// through taskpulse.js. Everything from the server is set as text, never
// as HTML: names and messages may hold markup.
import { connect } from "./taskpulse.js";

const params = new URLSearchParams(location.search);
const userID = params.get("user_id") || "";
const taskID = params.get("task_id") || "";

const MAX_LOGS = 500;
const MAX_NOTES = 50;
const RUNNING = new Set(["pending", "running", "paused"]);

const $ = (id) => document.getElementById(id);
const rows = new Map(); // task_id -> {el, origin}, origin being where the ETA estimate starts
let selected = ""; // the task whose logs are followed
let truncated = false; // the snapshot left older tasks out

const stream = connect({ apiKey: params.get("api_key") || "", onStatus: showStatus });

// --- connection -----------------------------------------------------------

function showStatus(status, { delay, code }) {
  const el = $("connection");
  if (status === "reconnecting" && el.dataset.state === "live" && selected) {
    logNotice("Disconnected: logs sent until the page reconnects are not shown.");
  }
  el.dataset.state = status;
  if (status === "live") {
    el.textContent = truncated ? "Live (showing the newest tasks only)" : "Live";
  } else if (status === "offline") {
    el.textContent = "Offline: waiting for the network…";
  } else if (!delay) {
    el.textContent = "Connecting…";
  } else {
    const why = code === 4000 ? " (the page fell behind)" : "";
    el.textContent = `Disconnected${why}; reconnecting in ${Math.ceil(delay / 1000)} s…`;
  }
}

// --- tasks ----------------------------------------------------------------

function showTask({ task, removed, snapshot }) {
  const id = task.task_id;
  let row = rows.get(id);
  if (removed) {
    row?.el.remove();
    rows.delete(id);
    $("no-tasks").hidden = rows.size > 0;
    if (id === selected) {
      stream.unsubscribe({ logs: { task_id: id } });
      selected = "";
      $("logs-hint").textContent = `Task ${id} is gone.`;
    }
    return;
  }
  if (!row) {
    row = { el: newRow(id), origin: null };
    rows.set(id, row);
    const body = $("tasks").tBodies[0];
    if (snapshot) body.append(row.el); // snapshots list newest first
    else body.prepend(row.el); // live: newest on top
    $("no-tasks").hidden = true;
  }
  // The estimate needs a starting point: the task's start when the
  // snapshot gave it, else the first update this page saw.
  if (task.started_at) row.origin = { at: task.started_at, progress: 0 };
  else row.origin ??= { at: task.updated_at, progress: task.progress };
  render(row.el, task, row.origin);
}

function newRow(id) {
  const el = $("task-row").content.firstElementChild.cloneNode(true);
  el.dataset.taskId = id;
  el.addEventListener("click", () => select(id));
  return el;
}

function render(el, t, origin) {
  const name = t.task_name || t.task_id;
  el.querySelector(".task-name").textContent = name;
  el.querySelector(".task-id").textContent = t.task_name ? t.task_id : "";
  const status = el.querySelector(".status");
  status.textContent = t.status;
  status.dataset.status = t.status;
  const pct = Math.round(t.progress * 10) / 10;
  const bar = el.querySelector("[role=progressbar]");
  bar.setAttribute("aria-valuenow", String(pct));
  bar.setAttribute("aria-label", `Progress of ${name}`);
  bar.dataset.status = t.status;
  bar.firstElementChild.style.width = `${pct}%`;
  el.querySelector(".pct").textContent = `${pct}%`;
  el.querySelector(".step").textContent =
    (t.current_step || "") + (t.steps_total ? ` (${t.steps_done || 0}/${t.steps_total})` : "");
  const message = el.querySelector(".message");
  message.textContent = t.error || t.message || "";
  message.classList.toggle("error", !!t.error);
  el.querySelector(".eta").textContent = eta(t, origin);
}

// eta is the client's estimate counted down, or one from the progress rate
// since the task's origin, or a dash.
function eta(t, origin) {
  if (!RUNNING.has(t.status) || t.progress >= 100) return "—";
  const since = (Date.now() - t.updated_at) / 1000;
  if (typeof t.eta === "number") return duration(t.eta - since);
  const gained = t.progress - origin.progress;
  const spent = t.updated_at - origin.at;
  if (t.status !== "running" || gained <= 0 || spent <= 0) return "—";
  return "~" + duration(((100 - t.progress) * spent) / gained / 1000 - since);
}

function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// --- logs -----------------------------------------------------------------

function select(id) {
  if (id === selected) return;
  if (selected) {
    stream.unsubscribe({ logs: { task_id: selected } });
    rows.get(selected)?.el.querySelector(".task-name").removeAttribute("aria-current");
  }
  selected = id;
  rows.get(id).el.querySelector(".task-name").setAttribute("aria-current", "true");
  $("logs-title").textContent = `Logs of ${id}`;
  $("logs").replaceChildren();
  $("logs-hint").textContent = `Following ${id}…`;
  follow();
}

function follow() {
  stream.subscribe({ logs: { task_id: selected, min_level: $("min-level").value } });
}

function addLog(l) {
  if (l.task_id !== selected) return;
  const li = document.createElement("li");
  li.dataset.level = l.level;
  li.append(time(l.timestamp), span("level", l.level));
  if (l.source) li.append(span("source", l.source));
  li.append(span("text", l.message));
  appendLog(li);
}

function logNotice(text) {
  const li = document.createElement("li");
  li.className = "notice";
  li.textContent = text;
  appendLog(li);
}

function appendLog(li) {
  const list = $("logs");
  const atEnd = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  list.append(li);
  while (list.children.length > MAX_LOGS) list.firstElementChild.remove();
  if (atEnd) list.scrollTop = list.scrollHeight;
}

// --- notifications --------------------------------------------------------

function addNote(n) {
  if (taskID && n.task_id && n.task_id !== taskID) return;
  const li = document.createElement("li");
  li.dataset.severity = n.severity;
  li.dataset.state = n.state;
  const head = document.createElement("div");
  head.append(span("severity", n.severity), span("title", n.title || n.rule), time(n.created_at));
  li.append(head);
  if (n.body) li.append(span("body", n.body));
  if (n.task_id) li.append(span("task muted", `task ${n.task_id}`));
  const list = $("notifications");
  list.prepend(li);
  while (list.children.length > MAX_NOTES) list.lastElementChild.remove();
  $("no-notes").hidden = true;
}

function span(cls, text) {
  const s = document.createElement("span");
  s.className = cls;
  s.textContent = text;
  return s;
}

function time(ms) {
  const t = document.createElement("time");
  const d = new Date(ms || Date.now());
  t.dateTime = d.toISOString();
  t.textContent = d.toLocaleTimeString();
  return t;
}

// --- start ----------------------------------------------------------------

stream.on("task", showTask);
stream.on("snapshot", (msg) => {
  truncated = !!msg.truncated;
  showStatus(stream.status, {});
});
stream.on("subscribed", (msg) => {
  if (msg.logs && msg.logs.task_id === selected) {
    $("logs-hint").textContent = `Following ${selected} at ${msg.logs.min_level} and above.`;
  }
});
stream.on("log", addLog);
stream.on("logs_dropped", (msg) => {
  if (msg.task_id === selected) logNotice(`${msg.count} logs dropped: the page fell behind.`);
});
stream.on("notification", addNote);
stream.on("error", (msg) => console.warn("stream error", msg.code, msg.message));

stream.subscribe(taskID ? { task_id: taskID } : userID ? { user_id: userID } : { all: true });
stream.subscribe({ notifications: userID ? { user_id: userID } : { all: true } });

$("scope").textContent = taskID ? `Task ${taskID}` : userID ? `Tasks of ${userID}` : "All tasks";
$("min-level").addEventListener("change", () => {
  if (selected) follow();
});
setInterval(() => {
  for (const [id, row] of rows) {
    const t = stream.tasks.get(id);
    if (RUNNING.has(t.status)) row.el.querySelector(".eta").textContent = eta(t, row.origin);
  }
}, 1000);
