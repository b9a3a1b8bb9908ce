// Control of running tasks, shared by the task list and a task's page:
// which of cancel, pause and resume a status allows, whether this server
// has them and the key may use them, sending one, and a control request
// in words. It imports nothing that needs a document, so that node tests
// it as it is.
import { durationWords } from "./ui.js";

// Which control each status allows, as the task API's state machine does.
export const CONTROLS = [
  { op: "pause", label: "Pause", when: ["running", "pending"] },
  { op: "resume", label: "Resume", when: ["paused"] },
  { op: "cancel", label: "Cancel", when: ["pending", "running", "paused"] },
];

// The routes the server has, read once from its OpenAPI document, so that
// the controls appear as soon as a server that has them answers.
let documented;
const routes = () => (documented ??= fetch("/openapi.json").then((r) => r.json()).then((d) => d.paths ?? {}).catch(() => ({})));

// Set once the server refused a control: the key may not use them, or
// this address does not serve the task API. Every page then hides them.
let refused = "";

/** The controls a task of this status may be sent here, none once refused. */
export async function usableControls(status) {
  const paths = await routes();
  return refused ? [] : CONTROLS.filter((c) => paths[`/v1/tasks/{id}/${c.op}`]?.post && c.when.includes(status));
}

/**
 * Sends control c to task id through request (app.js's api) and answers
 * what to tell the person. A refusal hides the controls everywhere.
 * @param {(path: string, opts: any) => Promise<any>} request
 */
export async function sendControl(request, id, c) {
  try {
    await request(`/v1/tasks/${encodeURIComponent(id)}/${c.op}`, { method: "POST", headers: { "Idempotency-Key": crypto.randomUUID() } });
    return { ok: true, text: `${c.label}: asked; the worker takes it at its next report.` };
  } catch (e) {
    // A 403: the key may not; a 404 or 405 for the route: this address
    // does not serve the task API (a proxy that routes by path only).
    if (e.status === 403) refused = "This key may not control tasks.";
    else if ((e.status === 404 || e.status === 405) && e.message.startsWith("no route")) refused = "Tasks cannot be controlled through this address.";
    return { ok: false, refused: !!refused, text: refused || `${c.label} failed: ${e.message}` };
  }
}

// The request's times are RFC 3339, in any offset and to any fraction of a
// second; unix ms are taken too. NaN for a time that is missing or not one.
const ms = (t) => (typeof t === "number" ? t : typeof t === "string" ? Date.parse(t) : NaN);

/**
 * A task's control request in words, and where it stands: "acknowledged",
 * "waiting" for the worker, or "unacknowledged" once its deadline passed
 * (the server says so when it reads the task; a page open for longer
 * sees the deadline pass by itself). null without a request.
 * @param {{action: string, requested_at: string, requested_by?: string, ack_deadline?: string, acknowledged_at?: string, unacknowledged?: boolean} | undefined} control
 * @param {number} now unix ms
 */
export function controlState(control, now) {
  if (!control?.action) return null;
  const requested = ms(control.requested_at);
  const deadline = control.ack_deadline ? ms(control.ack_deadline) : NaN;
  // A time that does not parse is left unsaid rather than shown as NaN.
  const ago = Number.isNaN(requested) ? "" : ` ${durationWords((now - requested) / 1000)} ago`;
  const asked = `${control.action} requested${ago}${control.requested_by ? ` by ${control.requested_by}` : ""}`;
  if (control.acknowledged_at) {
    const took = ms(control.acknowledged_at) - requested;
    return { state: "acknowledged", text: `${asked}, acknowledged${Number.isNaN(took) ? "" : ` after ${durationWords(took / 1000)}`}` };
  }
  if (control.unacknowledged || now >= deadline) {
    return { state: "unacknowledged", text: `${asked}, not acknowledged` };
  }
  const left = Number.isNaN(deadline) ? "" : `, ${durationWords((deadline - now) / 1000)} left to acknowledge`;
  return { state: "waiting", text: `${asked}, waiting for the worker${left}` };
}
