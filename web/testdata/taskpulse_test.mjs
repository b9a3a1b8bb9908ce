// The browser client taskpulse.js, run by node --test from web_test.go.
import assert from "node:assert/strict";
import { test } from "node:test";
import { TaskMap, connect, isAfter } from "../static/taskpulse.js";

const event = (fields) => ({ task_id: "t1", status: "running", seq: 0, ingest_order: 0, event_id: "e", ...fields });

test("a stale update after a newer one leaves the newer state", () => {
  const tasks = new TaskMap();
  assert.ok(tasks.apply(event({ timestamp: 2000, progress: 60, event_id: "b" })));
  assert.equal(tasks.apply(event({ timestamp: 1000, progress: 30, event_id: "a" })), null);
  // A snapshot of another subscription may list an older state too.
  assert.equal(tasks.apply(event({ updated_at: 1500, progress: 40 }), true), null);
  assert.equal(tasks.get("t1").progress, 60);
  assert.equal(tasks.get("t1").updated_at, 2000);
});

test("each part of the order key breaks the tie of the ones before", () => {
  const f = (a, b, want) => assert.equal(isAfter(event(a), event(b)), want, `${JSON.stringify(a)} after ${JSON.stringify(b)}`);
  f({ updated_at: 2 }, { updated_at: 1, seq: 9 }, true);
  f({ updated_at: 1, seq: 2 }, { updated_at: 1, seq: 1, ingest_order: 9 }, true);
  f({ updated_at: 1, seq: 1, ingest_order: 2 }, { updated_at: 1, seq: 1, ingest_order: 1, event_id: "z" }, true);
  f({ updated_at: 1, event_id: "b" }, { updated_at: 1, event_id: "a" }, true);
  f({ updated_at: 1 }, { updated_at: 1 }, false);
  f({ updated_at: 1, seq: 1 }, { updated_at: 2 }, false);
  // Event ids compare as UTF-8 bytes, as the stores compare them:
  // U+FF5E is below U+1F600, though its UTF-16 unit is above the surrogates.
  f({ updated_at: 1, event_id: "\u{1F600}" }, { updated_at: 1, event_id: "\uFF5E" }, true);
});

test("a live event keeps the identity and progress it leaves out and replaces the rest", () => {
  const tasks = new TaskMap();
  tasks.apply({ task_id: "t1", user_id: "u1", task_name: "Scrape", status: "running", progress: 35, message: "page 7",
    started_at: 900, updated_at: 1000, seq: 1, ingest_order: 1, event_id: "a" }, true);
  const change = tasks.apply(event({ timestamp: 2000, status: "paused" }));
  assert.deepEqual(change, {
    task: { task_id: "t1", user_id: "u1", task_name: "Scrape", status: "paused", progress: 35, started_at: 900,
      updated_at: 2000, seq: 0, ingest_order: 0, event_id: "e" },
    removed: false,
    snapshot: false,
  });
});

test("a deleted task is removed and a state older than its deletion does not bring it back", () => {
  const tasks = new TaskMap();
  tasks.apply(event({ timestamp: 1000, progress: 10 }));
  const change = tasks.apply(event({ timestamp: 2000, status: "deleted" }));
  assert.equal(change.removed, true);
  assert.equal(change.task.status, "deleted");
  assert.equal(tasks.get("t1"), undefined);
  assert.equal(tasks.apply(event({ updated_at: 1000, progress: 10 }), true), null);
  assert.equal(tasks.size, 0);
  // A task unknown here that was deleted is no change at all.
  assert.equal(tasks.apply(event({ task_id: "t2", timestamp: 1000, status: "deleted" })), null);
  // A newer state of the same id is a new task.
  assert.equal(tasks.apply(event({ timestamp: 3000, progress: 5 })).removed, false);
  assert.equal(tasks.get("t1").progress, 5);
});

// FakeSocket stands in for the browser's WebSocket, so that a test plays
// the server's part message by message; the browser tests of the live
// page run the same code against a real server.
class FakeSocket {
  static OPEN = 1;
  /** @type {FakeSocket[]} every socket made, the newest last */
  static made = [];
  readyState = 0;
  sent = [];
  constructor(url) {
    this.url = url;
    FakeSocket.made.push(this);
  }
  send(data) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1005) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  open() {
    this.readyState = FakeSocket.OPEN;
    this.onopen();
  }
  receive(msg) {
    this.onmessage({ data: JSON.stringify(msg) });
  }
}

// connected returns a stream with its listeners' record, its newest socket
// and a way to let the backoff's timer fire.
function connected(t, options = {}) {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  globalThis.WebSocket = FakeSocket;
  FakeSocket.made = [];
  const statuses = [];
  const changes = [];
  const stream = connect({ url: "https://tp.example.com/base", apiKey: "k", onStatus: (s, info) => statuses.push([s, info]), ...options });
  stream.on("task", (c) => changes.push(c));
  const socket = () => FakeSocket.made.at(-1);
  return { stream, statuses, changes, socket, wait: (ms) => t.mock.timers.tick(ms) };
}

test("the stream subscribes again after each reconnect, backing off until the server answers", (t) => {
  const { stream, statuses, socket, wait } = connected(t, { backoff: { initial: 100, max: 400 } });
  assert.equal(socket().url, "wss://tp.example.com/base/v1/stream?api_key=k");
  stream.subscribe({ all: true });
  stream.subscribe({ logs: { task_id: "t1", min_level: "WARNING" } });
  socket().open();
  assert.deepEqual(socket().sent, [{ type: "subscribe", all: true }, { type: "subscribe", logs: { task_id: "t1", min_level: "WARNING" } }]);
  assert.equal(stream.status, "live");

  // Each failed attempt doubles the delay, up to max, each drawn from its
  // upper half.
  const delays = [];
  for (let i = 0; i < 4; i++) {
    socket().close(1001);
    const [status, { delay }] = statuses.at(-1);
    assert.equal(status, "reconnecting");
    delays.push(delay);
    const before = FakeSocket.made.length;
    wait(delay);
    assert.equal(FakeSocket.made.length, before + 1, "a new attempt once the delay is over");
  }
  [100, 200, 400, 400].forEach((ceiling, i) => assert.ok(delays[i] >= ceiling / 2 && delays[i] <= ceiling, `delay ${i}: ${delays[i]}`));

  socket().open();
  assert.deepEqual(socket().sent.map((m) => m.type), ["subscribe", "subscribe"]);
  // The server answered: the next drop starts from the first delay again.
  socket().receive({ type: "snapshot", subscription: { all: true }, tasks: [] });
  socket().close(1001);
  assert.ok(statuses.at(-1)[1].delay <= 100);
});

test("a reconnect's snapshots bring final states and deletions, and keep what the new connection told of", (t) => {
  const { stream, changes, socket, wait } = connected(t);
  stream.subscribe({ user_id: "u1" });
  socket().open();
  const task = (id, fields) => ({ task_id: id, user_id: "u1", status: "running", seq: 0, ingest_order: 0, event_id: id, ...fields });
  socket().receive({ type: "snapshot", subscription: { user_id: "u1" }, tasks: [task("t1", { updated_at: 10, progress: 40 }), task("t2", { updated_at: 10 })] });
  socket().close(1006);
  wait(500);
  socket().open();
  changes.length = 0;
  // t3 comes live first (as through a subscription answered earlier), then
  // a snapshot read from a store that has t1's final state, no t2 any more
  // and no t3 yet.
  socket().receive({ type: "progress", event: task("t3", { timestamp: 30, progress: 1 }) });
  socket().receive({ type: "snapshot", subscription: { user_id: "u1" }, tasks: [task("t1", { updated_at: 20, status: "completed", progress: 100 })] });
  assert.deepEqual(changes.map((c) => [c.task.task_id, c.task.status, c.removed]), [
    ["t3", "running", false],
    ["t1", "completed", false],
    ["t2", "running", true],
  ]);
  assert.deepEqual([...stream.tasks.values()].map((t) => t.task_id).sort(), ["t1", "t3"]);
  // A truncated snapshot lists only the newest tasks: nothing is gone.
  socket().close(1006);
  wait(500);
  socket().open();
  socket().receive({ type: "snapshot", subscription: { user_id: "u1" }, tasks: [], truncated: true });
  assert.equal(stream.tasks.size, 2);
});

test("unsubscribing removes the tasks no subscription follows any more", (t) => {
  const { stream, changes, socket } = connected(t);
  stream.subscribe({ user_id: "u1" });
  stream.subscribe({ task_id: "t2" });
  socket().open();
  socket().receive({ type: "progress", event: { task_id: "t1", user_id: "u1", status: "running", timestamp: 1 } });
  socket().receive({ type: "progress", event: { task_id: "t2", user_id: "u1", status: "running", timestamp: 1 } });
  stream.unsubscribe({ user_id: "u1" });
  assert.deepEqual(socket().sent.at(-1), { type: "unsubscribe", user_id: "u1" });
  assert.deepEqual(changes.filter((c) => c.removed).map((c) => c.task.task_id), ["t1"]);
  assert.deepEqual([...stream.tasks.values()].map((t) => t.task_id), ["t2"]);
  assert.throws(() => stream.subscribe({ user_id: "u1", all: true }), TypeError);
});

test("a notification received twice reaches the listeners once", (t) => {
  const { stream, socket } = connected(t);
  const seen = [];
  stream.on("notification", (n) => seen.push(n.id));
  stream.subscribe({ notifications: { all: true } });
  socket().open();
  socket().receive({ type: "notification", notification: { id: "n1" } });
  socket().close(1006);
  t.mock.timers.tick(500);
  socket().open();
  socket().receive({ type: "notification", notification: { id: "n1" } });
  socket().receive({ type: "notification", notification: { id: "n2" } });
  assert.deepEqual(seen, ["n1", "n2"]);
  stream.close();
  assert.equal(stream.status, "offline");
});

test("a task's control request changes apart from its events, and leaves with the next event that has none", (t) => {
  const { stream, changes, socket } = connected(t);
  stream.subscribe({ task_id: "t1" });
  socket().open();
  socket().receive({ type: "snapshot", subscription: { task_id: "t1" }, tasks: [{ ...event({ updated_at: 1000 }) }] });
  const control = { action: "cancel", requested_at: "2026-01-01T00:00:00.000Z", ack_deadline: "2026-01-01T00:00:30.000Z" };
  socket().receive({ type: "task_control", task_id: "t1", control });
  assert.deepEqual(stream.tasks.get("t1").control, control);
  assert.deepEqual(changes.at(-1).task.control, control);
  assert.equal(stream.tasks.get("t1").updated_at, 1000, "the task's own state stays");
  // A task not followed is not made up from its request.
  socket().receive({ type: "task_control", task_id: "t9", control });
  assert.equal(stream.tasks.get("t9"), undefined);
  socket().receive({ type: "progress", event: event({ timestamp: 2000, status: "cancelled" }) });
  assert.equal(stream.tasks.get("t1").control, undefined);
});
