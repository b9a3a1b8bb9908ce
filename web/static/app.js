// The UI's shell: the API key, one stream shared by every page, the
// connection status, and the client-side router that draws the page the
// address names (/tasks, /tasks/{id}, /dashboards, /dashboards/{id},
// /alerts). Each page module exports a function that draws into the view
// and returns the function that tears it down.
import { connect } from "./taskpulse.js";
import { notice } from "./ui.js";

const KEY = "taskpulse.api_key";
const $ = (id) => document.getElementById(id);

// The key comes once in ?api_key= or from the form; it is kept in this
// tab's sessionStorage and taken out of the address, so that it is not in
// the history, in a bookmark or in a link copied from the bar.
const params = new URLSearchParams(location.search);
if (params.has("api_key")) {
  sessionStorage.setItem(KEY, params.get("api_key"));
  params.delete("api_key");
  history.replaceState(history.state, "", location.pathname + (params.size ? `?${params}` : "") + location.hash);
}
const apiKey = () => sessionStorage.getItem(KEY) || "";

/** An API error, with the server's code and message. */
export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * Calls the API with the key and answers the decoded JSON (null for 204)
 * and the response's headers. A 401 asks for a key; other errors throw an
 * APIError.
 * @param {string} path
 * @param {{ method?: string, body?: any, headers?: Record<string, string> }} [opts]
 */
export async function request(path, { method = "GET", body, headers = {} } = {}) {
  const h = { ...headers };
  if (apiKey()) h.Authorization = `Bearer ${apiKey()}`;
  if (body !== undefined) h["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  if (resp.status === 401) askKey();
  const data = resp.status === 204 ? null : await resp.json().catch(() => null);
  if (!resp.ok) {
    const e = data?.error ?? {};
    throw new APIError(resp.status, e.code ?? "", e.message ?? `${method} ${path} answered ${resp.status}`);
  }
  return { data, headers: resp.headers };
}

/** request's answer alone. */
export const api = (path, opts) => request(path, opts).then((r) => r.data);

let keyAsked = false;
function askKey() {
  if (keyAsked) return;
  keyAsked = true;
  const form = $("key-form");
  form.hidden = false;
  $("key-input").focus();
}
$("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem(KEY, $("key-input").value);
  location.reload();
});

// --- connection -------------------------------------------------------------

/** The stream every page shares; pages subscribe and unsubscribe. */
export const stream = connect({ apiKey: apiKey(), onStatus: showStatus });

function showStatus(status, { delay }) {
  const el = $("connection");
  el.dataset.state = status;
  el.textContent =
    status === "live" ? "Live" : status === "offline" ? "Offline" : delay ? `Reconnecting in ${Math.ceil(delay / 1000)} s…` : "Connecting…";
}
stream.on("error", (msg) => {
  if (msg.code === "unauthorized") askKey();
});

// --- unread notifications ---------------------------------------------------

let unread = 0;

/** The tenant's unread notifications, as far as this page knows. */
export const unreadCount = () => unread;

/** Sets the unread count shown beside Alerts in the menu. */
export function setUnread(n) {
  unread = Math.max(0, n);
  const badge = $("unread");
  badge.hidden = !unread;
  badge.textContent = unread > 999 ? "999+" : String(unread);
  badge.setAttribute("aria-label", `${unread} unread`);
}
// The answer counts the unread ones whatever its limit.
api("/v1/notifications?limit=1")
  .then((d) => setUnread(d.unread))
  .catch(() => {});
stream.on("notification", (n) => n.read_at || setUnread(unread + 1));
stream.subscribe({ notifications: { all: true } });

// --- routing ----------------------------------------------------------------

const routes = [
  [/^\/tasks\/?$/, "tasks", () => import("./page-tasks.js")],
  [/^\/tasks\/(.+)$/, "tasks", () => import("./page-task.js")],
  [/^\/dashboards\/?$/, "dashboards", () => import("./page-dashboards.js")],
  [/^\/dashboards\/(.+)$/, "dashboards", () => import("./page-dashboard.js")],
  [/^\/alerts\/?$/, "alerts", () => import("./page-alerts.js")],
];

let teardown = () => {};

async function render() {
  teardown();
  teardown = () => {};
  const view = $("view");
  view.replaceChildren();
  const found = routes.map(([re, section, load]) => [location.pathname.match(re), section, load]).find(([m]) => m);
  for (const a of document.querySelectorAll("nav a[data-section]")) {
    if (found && a.dataset.section === found[1]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (!found) {
    view.append(notice("No such page."));
    return;
  }
  const [match, , load] = found;
  const arg = match[1] === undefined ? undefined : decodeURIComponent(match[1]);
  try {
    const page = await load();
    teardown = page.default(view, arg) ?? (() => {});
  } catch (e) {
    view.append(notice(`This page could not be drawn: ${e.message}`, true));
  }
}

/** Goes to a page of the UI without reloading. */
export function navigate(href) {
  history.pushState(null, "", href);
  render();
  $("view").focus({ preventScroll: true });
  scrollTo(0, 0);
}

document.addEventListener("click", (e) => {
  const a = /** @type {Element} */ (e.target).closest?.("a[href]");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || a.target) return;
  const url = new URL(a.href);
  if (url.origin !== location.origin || !routes.some(([re]) => re.test(url.pathname))) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});
addEventListener("popstate", render);

/** The address of a task's page. */
export const taskHref = (id) => `/tasks/${encodeURIComponent(id)}`;

render();
