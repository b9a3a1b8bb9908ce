// The control requests' words, control.js, run by node --test from web_test.go.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CONTROLS, controlState } from "../static/control.js";

const at = Date.parse("2026-01-01T00:00:00.000Z");
const iso = (t) => new Date(t).toISOString();
const request = (fields) => ({ action: "cancel", requested_at: iso(at), ack_deadline: iso(at + 30_000), ...fields });

test("no request, nothing to say; times may be unix ms too", () => {
  assert.equal(controlState(undefined, at), null);
  assert.equal(controlState({}, at), null);
  assert.equal(controlState({ action: "resume", requested_at: at - 5_000, ack_deadline: at + 5_000 }, at).state, "waiting");
});

test("a request waits for the worker until its deadline", () => {
  assert.deepEqual(controlState(request({ requested_by: "ops" }), at + 12_000), {
    state: "waiting",
    text: "cancel requested 12 seconds ago by ops, waiting for the worker, 18 seconds left to acknowledge",
  });
});

test("past its deadline a request is not acknowledged, whether the server said so yet or not", () => {
  const want = { state: "unacknowledged", text: "pause requested 40 seconds ago, not acknowledged" };
  assert.deepEqual(controlState(request({ action: "pause" }), at + 40_000), want);
  assert.deepEqual(controlState(request({ action: "pause", unacknowledged: true }), at + 40_000), want);
});

test("an acknowledged request says how long the worker took", () => {
  assert.deepEqual(controlState(request({ acknowledged_at: iso(at + 3_000), unacknowledged: true }), at + 60_000), {
    state: "acknowledged",
    text: "cancel requested about 1 minute ago, acknowledged after 3 seconds",
  });
});

test("RFC 3339 times are read in any offset and to any fraction of a second", () => {
  // As the server writes them, then the same instants as other writers may.
  assert.equal(request({}).requested_at, "2026-01-01T00:00:00.000Z");
  const want = "cancel requested 12 seconds ago, waiting for the worker, 18 seconds left to acknowledge";
  assert.equal(controlState(request({}), at + 12_000).text, want);
  const offset = { action: "cancel", requested_at: "2026-01-01T02:00:00+02:00", ack_deadline: "2025-12-31T19:00:30.000-05:00" };
  assert.equal(controlState(offset, at + 12_000).text, want);
  const fine = { action: "cancel", requested_at: "2026-01-01T00:00:00.000000001Z", ack_deadline: "2026-01-01T00:00:30.999999999Z" };
  assert.equal(controlState(fine, at + 12_000).text, "cancel requested 12 seconds ago, waiting for the worker, 19 seconds left to acknowledge");
  assert.equal(controlState({ ...offset, acknowledged_at: "2026-01-01T01:00:02.5+01:00" }, at + 90_000).text, "cancel requested about 2 minutes ago, acknowledged after 3 seconds");
});

test("a time that does not parse is left unsaid, never NaN", () => {
  const c = controlState({ action: "pause", requested_at: "yesterday", ack_deadline: "soon", acknowledged_at: "later" }, at);
  assert.deepEqual(c, { state: "acknowledged", text: "pause requested, acknowledged" });
  assert.deepEqual(controlState({ action: "pause", requested_at: "yesterday" }, at), { state: "waiting", text: "pause requested, waiting for the worker" });
});

test("each status allows the controls of the task API's state machine", () => {
  const allowed = (status) => CONTROLS.filter((c) => c.when.includes(status)).map((c) => c.op);
  assert.deepEqual(allowed("running"), ["pause", "cancel"]);
  assert.deepEqual(allowed("paused"), ["resume", "cancel"]);
  assert.deepEqual(allowed("completed"), []);
});
