// TaskPulse in the browser: one WebSocket to /v1/stream (stream/PROTOCOL.md)
// that keeps a map of the followed tasks' current state, hands live logs and
// notifications to listeners, and reconnects by itself.
//
//   import { connect } from "https://taskpulse.example.com/web/taskpulse.js";
//   const stream = connect({ url: "https://taskpulse.example.com", apiKey });
//   stream.on("task", ({ task, removed }) => render(task, removed));
//   stream.subscribe({ user_id: "u-7" });

/** @typedef {"live" | "reconnecting" | "offline"} Status */

/**
 * What onStatus is told beside the status.
 * @typedef {object} StatusInfo
 * @property {number} attempt connection attempts that failed in a row
 * @property {number} delay milliseconds until the next attempt (0 when none is planned)
 * @property {number} [code] the close code of the connection that ended, when one did
 */

/**
 * @typedef {object} ConnectOptions
 * @property {string} [url] the address TaskPulse serves the stream on
 *   (http, https, ws or wss, with any path prefix); the page's own origin when absent
 * @property {string} [apiKey] sent as ?api_key=, since browsers cannot set
 *   headers on a WebSocket
 * @property {(status: Status, info: StatusInfo) => void} [onStatus]
 * @property {{ initial?: number, max?: number }} [backoff] the reconnect
 *   delay in milliseconds: it doubles from initial (500) up to max (15000),
 *   and each wait is drawn between half of it and all of it
 */

/**
 * One subscription, written as the protocol writes it: progress by
 * `{task_id}`, `{user_id}` or `{all: true}`; `{logs: {task_id, min_level}}`;
 * `{notifications: {user_id}}` or `{notifications: {all: true}}`.
 * @typedef {{ task_id: string } | { user_id: string } | { all: true }
 *   | { logs: { task_id: string, min_level?: string } }
 *   | { notifications: { user_id: string } | { all: true } }} Subscription
 */

/**
 * A task's current state, in the shape of GET /v1/tasks/{id}: task_id,
 * status, progress, updated_at, seq, ingest_order, event_id, and the other
 * fields of the latest event.
 * @typedef {{ task_id: string, status: string, progress: number, updated_at: number,
 *   seq: number, ingest_order: number, event_id: string, [field: string]: any }} Task
 */

/**
 * A change in the task map: a task's newer state, or its removal (the task
 * was deleted, or no subscription follows it any more). snapshot tells a
 * change read at subscription from one that happened live.
 * @typedef {{ task: Task, removed: boolean, snapshot: boolean }} TaskChange
 */

/**
 * The listeners' events and what each is given: "task" a TaskChange;
 * "log" and "notification" the log or notification; "snapshot",
 * "subscribed", "unsubscribed", "logs_dropped" and "error" the server's
 * message itself.
 * @typedef {"task" | "log" | "notification" | "snapshot" | "subscribed"
 *   | "unsubscribed" | "logs_dropped" | "error"} EventName
 */

// Fields a task keeps when a newer event leaves them out: who and what it
// is, when it began, and (as the stores do) the last progress it reported.
const KEPT = ["user_id", "task_type", "task_name", "created_at", "started_at", "progress", "progress_at"];

// Removed tasks are remembered, so that a state older than the removal
// does not bring them back; this many, the oldest forgotten first.
const MAX_REMOVED = 10000;

// Notifications may come twice from the bus; the ids of this many are
// remembered across reconnects so that each is passed on once.
const MAX_NOTIFICATIONS_SEEN = 1000;

/**
 * Reports whether a comes strictly after b in their task's order:
 * timestamp, then seq, then ingest order, then event id (schema/order.go).
 * @param {Task} a
 * @param {Task} b
 */
export function isAfter(a, b) {
  for (const f of ["updated_at", "seq", "ingest_order"]) {
    const x = a[f] ?? 0;
    const y = b[f] ?? 0;
    if (x !== y) return x > y;
  }
  return compareBytes(a.event_id ?? "", b.event_id ?? "") > 0;
}

// compareBytes orders strings by their UTF-8 bytes, as the stores do; that
// is code point order, which JavaScript's UTF-16 comparison is not.
function compareBytes(a, b) {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/**
 * The current state of tasks, merged from snapshots and live events: a
 * state is taken only when it comes after the one held, so a stale update
 * never overwrites a newer one, and a "deleted" state removes its task.
 */
export class TaskMap {
  /** @type {Map<string, Task>} */
  #tasks = new Map();
  /** @type {Map<string, Task>} the last state of removed tasks */
  #removed = new Map();

  /**
   * Merges a snapshot's task or a live progress event (whose `timestamp`
   * becomes `updated_at`) and returns the change, or null when the update
   * is not newer than what is held.
   * @param {Record<string, any>} update
   * @param {boolean} [snapshot]
   * @returns {TaskChange | null}
   */
  apply(update, snapshot = false) {
    const { timestamp, ...fields } = update;
    const next = /** @type {Task} */ ({ ...fields, updated_at: fields.updated_at ?? timestamp });
    const id = next.task_id;
    const held = this.#tasks.get(id);
    const last = held ?? this.#removed.get(id);
    if (last && !isAfter(next, last)) return null;
    for (const f of KEPT) {
      if (next[f] === undefined && held?.[f] !== undefined) next[f] = held[f];
    }
    next.progress ??= 0;
    this.#removed.delete(id);
    if (next.status !== "deleted") {
      this.#tasks.set(id, next);
      return { task: next, removed: false, snapshot };
    }
    this.#tasks.delete(id);
    this.#removed.set(id, next);
    if (this.#removed.size > MAX_REMOVED) this.#removed.delete(this.#removed.keys().next().value);
    return held ? { task: next, removed: true, snapshot } : null;
  }

  /**
   * Forgets a task without remembering it as removed, and returns its
   * last state; a later snapshot may bring it back.
   * @param {string} id
   * @returns {Task | undefined}
   */
  forget(id) {
    const task = this.#tasks.get(id);
    this.#tasks.delete(id);
    return task;
  }

  /**
   * Sets the control request of a held task, which changes apart from its
   * events (a request made, acknowledged, overdue), and returns the
   * change, or null for a task not held. No request removes it.
   * @param {string} id
   * @param {Record<string, any> | null | undefined} control
   * @returns {TaskChange | null}
   */
  setControl(id, control) {
    const held = this.#tasks.get(id);
    if (!held) return null;
    const next = { ...held, control: control ?? undefined };
    if (!control) delete next.control;
    this.#tasks.set(id, next);
    return { task: next, removed: false, snapshot: false };
  }

  /** @param {string} id */
  get(id) {
    return this.#tasks.get(id);
  }

  /** The tasks held, in no particular order. */
  values() {
    return this.#tasks.values();
  }

  get size() {
    return this.#tasks.size;
  }
}

/**
 * Opens the stream and keeps it open until close(): after a drop it
 * reconnects with exponential backoff and jitter and subscribes again to
 * everything, and the new snapshots bring the task map up to date, final
 * states and deletions included. Logs and notifications that arrive while it is
 * disconnected are not replayed (GET /v1/tasks/{id}/logs has the logs).
 * @param {ConnectOptions} [options]
 * @returns {Stream}
 */
export function connect(options = {}) {
  return new Stream(options);
}

/** A connection to /v1/stream that survives drops; see connect. */
export class Stream {
  /** The followed tasks' current state. */
  tasks = new TaskMap();

  #url;
  #onStatus;
  #initial;
  #max;
  /** @type {Map<string, Subscription>} by subscriptionKey */
  #subs = new Map();
  /** @type {Map<string, Set<Function>>} */
  #listeners = new Map();
  #notificationsSeen = new Set();
  // The tasks the current connection has told of, which its snapshots
  // must not take for gone.
  #confirmed = new Set();
  /** @type {WebSocket | null} */
  #socket = null;
  #attempt = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #timer;
  /** @type {Status} */
  #status = "reconnecting";
  #closing = new AbortController();

  /** @param {ConnectOptions} options */
  constructor({ url, apiKey, onStatus, backoff = {} }) {
    this.#url = streamURL(url ?? globalThis.location.origin, apiKey);
    this.#onStatus = onStatus;
    this.#initial = backoff.initial ?? 500;
    this.#max = backoff.max ?? 15000;
    const signal = this.#closing.signal;
    globalThis.addEventListener?.("online", () => this.#socket || this.#open(), { signal });
    globalThis.addEventListener?.("offline", () => this.#socket || this.#waitOnline(), { signal });
    this.#open();
  }

  /** @returns {Status} */
  get status() {
    return this.#status;
  }

  /**
   * Follows what sub names, from now and after every reconnect. A progress
   * subscription first brings a snapshot into the task map. Subscribing to
   * a task's logs again changes their level.
   * @param {Subscription} sub
   */
  subscribe(sub) {
    const key = subscriptionKey(sub);
    if (this.#subs.has(key) && kindOf(sub) !== "logs") return;
    this.#subs.set(key, sub);
    this.#send({ type: "subscribe", ...sub });
  }

  /**
   * Stops following what sub names; tasks no progress subscription
   * follows any more leave the task map, and listeners see them removed.
   * @param {Subscription} sub
   */
  unsubscribe(sub) {
    const key = subscriptionKey(sub);
    if (!this.#subs.delete(key)) return;
    this.#send({ type: "unsubscribe", ...sub });
    if (kindOf(sub) !== "progress") return;
    const progress = [...this.#subs.values()].filter((s) => kindOf(s) === "progress");
    this.#forgetWhere((task) => !progress.some((s) => follows(s, task)), false);
  }

  /**
   * Calls fn for every event of that name, and returns a function that
   * stops it.
   * @param {EventName} name
   * @param {(value: any) => void} fn
   * @returns {() => void}
   */
  on(name, fn) {
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Closes the connection for good; the status becomes offline. */
  close() {
    this.#closing.abort();
    clearTimeout(this.#timer);
    const ws = this.#socket;
    this.#socket = null;
    ws?.close(1000);
    this.#setStatus("offline", { attempt: this.#attempt, delay: 0 });
  }

  #open() {
    clearTimeout(this.#timer);
    if (this.#closing.signal.aborted) return;
    if (globalThis.navigator?.onLine === false) return this.#waitOnline();
    this.#setStatus("reconnecting", { attempt: this.#attempt, delay: 0 });
    const ws = new WebSocket(this.#url);
    this.#socket = ws;
    ws.onopen = () => {
      this.#confirmed.clear();
      this.#setStatus("live", { attempt: this.#attempt, delay: 0 });
      for (const sub of this.#subs.values()) this.#send({ type: "subscribe", ...sub });
    };
    ws.onmessage = (e) => this.#handle(JSON.parse(e.data));
    ws.onclose = (e) => {
      if (this.#socket !== ws) return;
      this.#socket = null;
      this.#retry(e.code);
    };
  }

  #retry(code) {
    if (globalThis.navigator?.onLine === false) return this.#waitOnline(code);
    // Doubling delays, each drawn from its upper half, so that pages left
    // open do not all come back at the same moment after a restart.
    const ceiling = Math.min(this.#max, this.#initial * 2 ** this.#attempt++);
    const delay = ceiling / 2 + (Math.random() * ceiling) / 2;
    this.#timer = setTimeout(() => this.#open(), delay);
    this.#setStatus("reconnecting", { attempt: this.#attempt, delay, code });
  }

  // waitOnline stops retrying while the browser has no network: its
  // "online" event opens the stream again.
  #waitOnline(code) {
    clearTimeout(this.#timer);
    this.#attempt = 0;
    this.#setStatus("offline", { attempt: 0, delay: 0, code });
  }

  #send(msg) {
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(msg));
  }

  #handle(msg) {
    // Only a message that brings data shows the server working: an error
    // alone (a snapshot it could not read) must not cut the backoff short.
    if (msg.type !== "error") this.#attempt = 0;
    switch (msg.type) {
      case "snapshot":
        for (const t of msg.tasks ?? []) this.#applyTask(t, true);
        // A complete snapshot leaves out what was deleted while the stream
        // was away. Tasks this connection told of stay: one may be newer
        // than the store the snapshot was read from.
        if (!msg.truncated) {
          this.#forgetWhere((task) => follows(msg.subscription, task) && !this.#confirmed.has(task.task_id), true);
        }
        this.#emit("snapshot", msg);
        break;
      case "progress":
        this.#applyTask(msg.event, false);
        break;
      case "task_control": {
        const change = this.tasks.setControl(msg.task_id, msg.control);
        if (change) this.#emit("task", change);
        break;
      }
      case "log":
        this.#emit("log", msg.log);
        break;
      case "notification":
        if (remember(this.#notificationsSeen, msg.notification.id)) this.#emit("notification", msg.notification);
        break;
      case "error":
        this.#emit("error", msg);
        // The subscription whose snapshot failed is dropped by the server;
        // a new connection subscribes to everything again, after a backoff.
        if (msg.code === "snapshot_failed") this.#socket?.close();
        break;
      default:
        this.#emit(msg.type, msg);
    }
  }

  #applyTask(update, snapshot) {
    this.#confirmed.add(update.task_id);
    const change = this.tasks.apply(update, snapshot);
    if (change) this.#emit("task", change);
  }

  // forgetWhere removes the tasks gone holds for and tells the listeners.
  #forgetWhere(gone, snapshot) {
    for (const task of [...this.tasks.values()]) {
      if (gone(task)) this.#emit("task", { task: this.tasks.forget(task.task_id), removed: true, snapshot });
    }
  }

  #emit(name, value) {
    for (const fn of this.#listeners.get(name) ?? []) {
      try {
        fn(value);
      } catch (e) {
        // One broken listener must not stop the others or the stream.
        console.error(e);
      }
    }
  }

  #setStatus(status, info) {
    this.#status = status;
    this.#onStatus?.(status, info);
  }
}

// streamURL is the WebSocket address of the stream served at base.
function streamURL(base, apiKey) {
  const url = new URL(base);
  url.protocol = url.protocol.replace(/^http/, "ws");
  if (!url.pathname.endsWith("/v1/stream")) {
    url.pathname = url.pathname.replace(/\/?$/, "/v1/stream");
  }
  if (apiKey) url.searchParams.set("api_key", apiKey);
  return url.href;
}

// subscriptionKey names what sub follows, the same for its subscribe and
// unsubscribe, and throws on a subscription the protocol does not have.
function subscriptionKey(sub) {
  const kind = kindOf(sub);
  const what = kind === "progress" ? sub : sub[kind];
  const names = kind === "logs" ? ["task_id"] : kind === "notifications" ? ["user_id", "all"] : ["task_id", "user_id", "all"];
  const given = names.filter((n) => what[n] !== undefined);
  const [name] = given;
  const value = what[name];
  if (given.length !== 1 || (name === "all" ? value !== true : typeof value !== "string")) {
    throw new TypeError(`not a TaskPulse subscription: ${JSON.stringify(sub)}`);
  }
  return JSON.stringify([kind, name, value]);
}

/**
 * kindOf tells what a subscription follows.
 * @param {Subscription} sub
 * @returns {"progress" | "logs" | "notifications"}
 */
function kindOf(sub) {
  return "logs" in sub ? "logs" : "notifications" in sub ? "notifications" : "progress";
}

// follows reports whether the progress subscription sub matches task.
function follows(sub, task) {
  return sub.all === true || sub.task_id === task.task_id || (sub.user_id !== undefined && sub.user_id === task.user_id);
}

// remember adds id to the bounded set seen and reports whether it is new.
function remember(seen, id) {
  if (seen.has(id)) return false;
  seen.add(id);
  if (seen.size > MAX_NOTIFICATIONS_SEEN) seen.delete(seen.values().next().value);
  return true;
}
