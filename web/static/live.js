// The live page: one WebSocket to /v1/stream (stream/PROTOCOL.md) that
// follows the tasks named by the page's address, the logs of the task the
// user picks and the notifications of the tenant or user.
"use strict";

const params = new URLSearchParams(location.search);
const apiKey = params.get("api_key") || "";
const userID = params.get("user_id") || "";
const taskID = params.get("task_id") || "";

const MAX_LOGS = 500;
const MAX_NOTES = 50;
const RUNNING = new Set(["pending", "running", "paused"]);

const $ = (id) => document.getElementById(id);
const tasks = new Map(); // task_id -> {id, el, key, ...the task's state}
const notesSeen = new Set();
let selected = ""; // the task whose logs are followed
let socket = null;
let failures = 0;

// --- connection -----------------------------------------------------------

function streamURL() {
  const q = new URLSearchParams();
  if (apiKey) q.set("api_key", apiKey);
  if (taskID) q.set("task_id", taskID);
  else if (userID) q.set("user_id", userID);
  else q.set("all", "true");
  if (userID) q.set("notifications_user_id", userID);
  else q.set("notifications_all", "true");
  if (selected) {
    q.set("logs_task_id", selected);
    q.set("logs_min_level", $("min-level").value);
  }
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/v1/stream?${q}`;
}

function connect() {
  setConnection("connecting", "Connecting…");
  const ws = new WebSocket(streamURL());
  socket = ws;
  let opened = false;
  ws.onopen = () => {
    opened = true;
    setConnection("open", "Live");
  };
  ws.onmessage = (e) => {
    failures = 0; // the server answered: the next drop starts over
    handle(JSON.parse(e.data));
  };
  ws.onclose = (e) => {
    if (socket !== ws) return;
    socket = null;
    // Exponential backoff with jitter, so that many pages do not come back
    // at the same moment after a restart.
    const ceiling = Math.min(15000, 500 * 2 ** failures++);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    const why = e.code === 4000 ? " (the page fell behind)" : "";
    setConnection("closed", `Disconnected${why}; reconnecting in ${Math.ceil(delay / 1000)} s…`);
    if (opened && selected) logNotice("Disconnected: logs sent until the page reconnects are not shown.");
    setTimeout(connect, delay);
  };
}

function send(msg) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(msg));
}

function setConnection(state, text) {
  const el = $("connection");
  el.dataset.state = state;
  el.textContent = text;
}

function handle(msg) {
  switch (msg.type) {
    case "snapshot":
      for (const t of msg.tasks || []) {
        apply(t.task_id, [t.updated_at, t.seq, t.ingest_order, t.event_id], t, true);
      }
      if (msg.truncated) setConnection("open", "Live (showing the newest tasks only)");
      break;
    case "progress": {
      const ev = msg.event;
      apply(ev.task_id, [ev.timestamp, ev.seq || 0, ev.ingest_order || 0, ev.event_id || ""], ev, false);
      break;
    }
    case "subscribed":
      if (msg.logs && msg.logs.task_id === selected) {
        $("logs-hint").textContent = `Following ${selected} at ${msg.logs.min_level} and above.`;
      }
      break;
    case "log":
      if (msg.log.task_id === selected) addLog(msg.log);
      break;
    case "logs_dropped":
      if (msg.task_id === selected) logNotice(`${msg.count} logs dropped: the page fell behind.`);
      break;
    case "notification":
      addNote(msg.notification);
      break;
    case "error":
      console.warn("stream error", msg.code, msg.message);
      break;
  }
}

// --- tasks ----------------------------------------------------------------

function newer(a, b) {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i] > b[i];
  }
  return false;
}

// apply takes a snapshot task or a progress event when it is newer than
// what the row shows; an event without progress keeps the last one.
function apply(id, key, s, fromSnapshot) {
  let t = tasks.get(id);
  if (!t) {
    t = { id, el: newRow(id), key: null, progress: 0 };
    tasks.set(id, t);
    const body = $("tasks").tBodies[0];
    if (fromSnapshot) body.append(t.el); // snapshots list newest first
    else body.prepend(t.el); // live: newest on top
    $("no-tasks").hidden = true;
  }
  if (t.key && !newer(key, t.key)) return;
  t.key = key;
  const at = key[0];
  t.name = s.task_name || t.name || "";
  t.status = s.status;
  if (typeof s.progress === "number") t.progress = s.progress;
  t.step = s.current_step || "";
  t.stepsDone = s.steps_done || 0;
  t.stepsTotal = s.steps_total || 0;
  t.message = s.message || "";
  t.error = s.error || "";
  t.eta = typeof s.eta === "number" ? { seconds: s.eta, at } : null;
  t.at = at;
  // The estimate needs a starting point: the task's start when the
  // snapshot gives it, else the first update this page saw.
  if (fromSnapshot && s.started_at) t.origin = { at: s.started_at, progress: 0 };
  else if (!t.origin) t.origin = { at, progress: t.progress };
  render(t);
}

function newRow(id) {
  const el = $("task-row").content.firstElementChild.cloneNode(true);
  el.dataset.taskId = id;
  el.addEventListener("click", () => select(id));
  return el;
}

function render(t) {
  const el = t.el;
  const name = t.name || t.id;
  el.querySelector(".task-name").textContent = name;
  el.querySelector(".task-id").textContent = t.name ? t.id : "";
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
    t.step + (t.stepsTotal ? ` (${t.stepsDone}/${t.stepsTotal})` : "");
  const message = el.querySelector(".message");
  message.textContent = t.error || t.message;
  message.classList.toggle("error", !!t.error);
  el.querySelector(".eta").textContent = eta(t);
}

// eta is the client's estimate counted down, or one from the progress rate
// since the task's origin, or a dash.
function eta(t) {
  if (!RUNNING.has(t.status) || t.progress >= 100) return "—";
  if (t.eta) return duration(t.eta.seconds - (Date.now() - t.eta.at) / 1000);
  const gained = t.progress - t.origin.progress;
  const spent = t.at - t.origin.at;
  if (t.status !== "running" || gained <= 0 || spent <= 0) return "—";
  const left = ((100 - t.progress) * spent) / gained / 1000 - (Date.now() - t.at) / 1000;
  return "~" + duration(left);
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
  if (selected) send({ type: "unsubscribe", logs: { task_id: selected } });
  const previous = tasks.get(selected);
  if (previous) previous.el.querySelector(".task-name").removeAttribute("aria-current");
  selected = id;
  tasks.get(id).el.querySelector(".task-name").setAttribute("aria-current", "true");
  $("logs-title").textContent = `Logs of ${id}`;
  $("logs").replaceChildren();
  $("logs-hint").textContent = `Following ${id}…`;
  follow();
}

function follow() {
  send({ type: "subscribe", logs: { task_id: selected, min_level: $("min-level").value } });
}

function addLog(l) {
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
  if (notesSeen.has(n.id) || (taskID && n.task_id && n.task_id !== taskID)) return;
  notesSeen.add(n.id);
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

$("scope").textContent = taskID ? `Task ${taskID}` : userID ? `Tasks of ${userID}` : "All tasks";
$("min-level").addEventListener("change", () => {
  if (selected) follow();
});
setInterval(() => {
  for (const t of tasks.values()) {
    if (RUNNING.has(t.status)) t.el.querySelector(".eta").textContent = eta(t);
  }
}, 1000);
connect();
