// The task list: every task of the tenant, newest first, read page by page
// from GET /v1/tasks and kept current by the stream. Filters, search and
// sorting run in the browser over the tasks held, and only the rows in
// sight are in the document, so that ten thousand tasks scroll smoothly.
// The filters live in the address, so a filtered list can be linked to.
// A row says where a control request stands, and its actions button
// opens one menu, shared by every row, with the controls the task's
// status allows, where the server has them and the key may use them.
import { api, stream, taskHref } from "./app.js";
import { controlState, sendControl, usableControls } from "./control.js";
import { TaskMap, isAfter } from "./taskpulse.js";
import { ago, h, notice, progressBar, statusBadge } from "./ui.js";

const STATUSES = ["pending", "running", "paused", "completed", "failed", "cancelled"];
// The list holds at most this many tasks, the most recently updated.
const MAX_TASKS = 20000;
// The first page is small, so that the list shows at once; the rest come
// in pages as large as the API gives.
const FIRST_PAGE = 100;
const PAGE = 1000;
// Rows drawn above and below the visible ones, so a quick scroll shows no gap.
const OVERSCAN = 10;

const COLUMNS = [
  { key: "name", label: "Task", value: (t) => (t.task_name || t.task_id).toLowerCase() },
  { key: "status", label: "Status", value: (t) => STATUSES.indexOf(t.status) },
  { key: "progress", label: "Progress", value: (t) => t.progress ?? 0 },
  { key: "type", label: "Type", value: (t) => t.task_type ?? "", wide: true },
  { key: "user", label: "User", value: (t) => t.user_id ?? "", wide: true },
  { key: "updated", label: "Updated", value: (t) => t.updated_at ?? 0, wide: true },
];
// The statuses some control applies to; the others get no actions button.
const CONTROLLABLE = new Set(["pending", "running", "paused"]);

export default function tasksPage(view) {
  const tasks = new TaskMap();
  const q = new URLSearchParams(location.search);
  const state = {
    status: q.get("status") || "",
    type: q.get("type") || "",
    user: q.get("user") || "",
    text: q.get("q") || "",
    sort: q.get("sort") || "updated",
    desc: q.get("order") !== "asc",
  };
  let shown = []; // the filtered, sorted tasks
  let rowHeight = 0;
  let dirty = true;
  let frame = 0;
  let firstDrawn = false;
  let loading = true;
  let capped = false;
  let controllable = false; // the server has controls and the key may use them

  const counts = h("div", { class: "counts", role: "group", "aria-label": "Filter by status" });
  const typeSel = h("select", { id: "f-type" });
  const userIn = h("input", { id: "f-user", type: "search", list: "users", autocomplete: "off", value: state.user });
  const users = h("datalist", { id: "users" });
  const search = h("input", { id: "f-search", type: "search", placeholder: "id or name", autocomplete: "off", value: state.text });
  const summary = h("p", { id: "list-summary", class: "muted", role: "status" }, "Loading tasks…");
  const head = h("tr");
  const top = h("tr", { class: "spacer", "aria-hidden": "true" });
  const bottom = h("tr", { class: "spacer", "aria-hidden": "true" });
  const body = h("tbody");
  const scroller = h(
    "div",
    { class: "scroller", id: "task-scroll", tabindex: "0", role: "region", "aria-label": "Task list" },
    h("table", { id: "task-list" }, h("caption", { class: "visually-hidden" }, "Tasks; pick one to open its page."), h("thead", {}, head), body),
  );

  const menuTitle = h("h3", { id: "task-actions-title", class: "ellipsis" });
  const menuButtons = h("div", { class: "controls" });
  const menuNote = h("p", { class: "muted", role: "status", id: "task-actions-status" });
  const menu = h(
    "dialog",
    { id: "task-actions", "aria-labelledby": "task-actions-title" },
    menuTitle,
    menuButtons,
    menuNote,
    h("form", { method: "dialog" }, h("button", { type: "submit", class: "close" }, "Close")),
  );

  view.append(
    menu,
    h("h2", {}, "Tasks"),
    h(
      "form",
      { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() },
      h("label", {}, "Search ", search),
      h("label", {}, "Type ", typeSel),
      h("label", {}, "User ", userIn),
      users,
    ),
    counts,
    summary,
    scroller,
  );

  // --- header and sorting ---------------------------------------------------

  function drawHead() {
    head.replaceChildren(
      ...COLUMNS.map((c) => {
        const sorted = state.sort === c.key;
        return h(
          "th",
          { scope: "col", class: c.wide ? "wide" : null, "aria-sort": sorted ? (state.desc ? "descending" : "ascending") : null },
          h("button", { type: "button", class: "sort", "data-sort": c.key, onclick: () => sortBy(c.key) }, c.label, sorted ? (state.desc ? " ↓" : " ↑") : ""),
        );
      }),
      h("th", { scope: "col", class: "actions" }, h("span", { class: "visually-hidden" }, "Actions")),
    );
  }

  function sortBy(key) {
    state.desc = state.sort === key ? !state.desc : key === "updated" || key === "progress";
    state.sort = key;
    drawHead();
    changed();
  }

  // --- filters ----------------------------------------------------------------

  function matches(t, ignoreStatus = false) {
    if (!ignoreStatus && state.status && t.status !== state.status) return false;
    if (state.type && t.task_type !== state.type) return false;
    if (state.user && t.user_id !== state.user) return false;
    if (state.text) {
      const text = state.text.toLowerCase();
      if (!t.task_id.toLowerCase().includes(text) && !(t.task_name ?? "").toLowerCase().includes(text)) return false;
    }
    return true;
  }

  function drawCounts() {
    const n = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    let all = 0;
    const types = new Set();
    const seenUsers = new Set();
    for (const t of tasks.values()) {
      if (t.task_type) types.add(t.task_type);
      if (t.user_id && seenUsers.size < 500) seenUsers.add(t.user_id);
      if (!matches(t, true)) continue;
      all++;
      n[t.status] = (n[t.status] ?? 0) + 1;
    }
    const chip = (status, label, count) =>
      h("button", { type: "button", class: "chip", "data-status": status || "all", "aria-pressed": String(state.status === status), onclick: () => filterStatus(status) }, label, " ", h("span", { class: "count" }, count.toLocaleString()));
    counts.replaceChildren(chip("", "All", all), ...STATUSES.map((s) => chip(s, s, n[s])));
    fillSelect(typeSel, types, state.type, "All types");
    if (users.children.length !== seenUsers.size) users.replaceChildren(...[...seenUsers].sort().map((u) => h("option", { value: u })));
  }

  function fillSelect(sel, values, current, allLabel) {
    const want = ["", ...[...values].sort()];
    if (current && !values.has(current)) want.push(current);
    if (sel.options.length === want.length) return;
    sel.replaceChildren(...want.map((v) => h("option", { value: v, selected: v === current }, v || allLabel)));
  }

  function filterStatus(status) {
    state.status = status;
    changed();
  }

  typeSel.addEventListener("change", () => {
    state.type = typeSel.value;
    changed();
  });
  userIn.addEventListener("input", () => {
    state.user = userIn.value.trim();
    changed();
  });
  search.addEventListener("input", () => {
    state.text = search.value.trim();
    changed();
  });

  function changed() {
    const p = new URLSearchParams();
    if (state.status) p.set("status", state.status);
    if (state.type) p.set("type", state.type);
    if (state.user) p.set("user", state.user);
    if (state.text) p.set("q", state.text);
    if (state.sort !== "updated") p.set("sort", state.sort);
    if (!state.desc) p.set("order", "asc");
    history.replaceState(null, "", location.pathname + (p.size ? `?${p}` : ""));
    scroller.scrollTop = 0;
    invalidate();
  }

  // --- rows -------------------------------------------------------------------

  function schedule() {
    frame ||= requestAnimationFrame(draw);
  }

  function invalidate() {
    dirty = true;
    schedule();
  }

  function draw() {
    frame = 0;
    if (dirty) {
      dirty = false;
      const col = COLUMNS.find((c) => c.key === state.sort) ?? COLUMNS[5];
      const sign = state.desc ? -1 : 1;
      shown = [...tasks.values()].filter((t) => matches(t));
      // Ties fall back to the newest first, so the order never flickers.
      shown.sort((a, b) => {
        const x = col.value(a);
        const y = col.value(b);
        return (x < y ? -sign : x > y ? sign : 0) || b.updated_at - a.updated_at || (a.task_id < b.task_id ? -1 : 1);
      });
      drawCounts();
      const total = tasks.size.toLocaleString();
      summary.textContent = loading
        ? `Loading tasks… ${total} so far`
        : `${shown.length.toLocaleString()} of ${total} tasks${capped ? ` (the ${MAX_TASKS.toLocaleString()} most recently updated)` : ""}`;
    }
    drawRows();
  }

  function drawRows() {
    if (!shown.length) {
      top.style.height = bottom.style.height = "0";
      body.replaceChildren(h("tr", {}, h("td", { colspan: COLUMNS.length + 1 }, loading ? "Loading…" : "No task matches.")));
      return;
    }
    const height = rowHeight || 48;
    const first = Math.max(0, Math.floor(scroller.scrollTop / height) - OVERSCAN);
    const count = Math.ceil(scroller.clientHeight / height) + 2 * OVERSCAN;
    const last = Math.min(shown.length, first + count);
    top.style.height = `${first * height}px`;
    bottom.style.height = `${(shown.length - last) * height}px`;
    const rows = shown.slice(first, last).map(row);
    body.replaceChildren(top, ...rows, bottom);
    if (!rowHeight && rows[0]) {
      rowHeight = rows[0].getBoundingClientRect().height || 48;
      drawRows();
      return;
    }
    if (!firstDrawn) {
      firstDrawn = true;
      performance.mark("taskpulse:tasks-rendered");
      // Whether the rows get actions is asked once they are drawn: the
      // server's document is not small, and the rows need not wait for it.
      usableControls("running").then((usable) => {
        controllable = usable.length > 0;
        if (controllable) invalidate();
      });
    }
  }

  function row(t) {
    const name = t.task_name || t.task_id;
    const control = controlState(t.control, Date.now());
    return h(
      "tr",
      { class: "task", "data-task-id": t.task_id },
      h("th", { scope: "row" }, h("a", { href: taskHref(t.task_id), class: "task-name", title: name }, name), t.task_name ? h("span", { class: "task-id muted", title: t.task_id }, t.task_id) : null),
      h("td", {}, statusBadge(t.status), control ? h("span", { class: "control-state", "data-state": control.state, title: control.text }, shortControl(t.control.action, control.state)) : null),
      h("td", {}, progressBar(t.progress, t.status, `Progress of ${name}`)),
      h("td", { class: "wide ellipsis", title: t.task_type ?? "" }, t.task_type ?? ""),
      h("td", { class: "wide ellipsis", title: t.user_id ?? "" }, t.user_id ?? ""),
      h("td", { class: "wide when" }, ago(t.updated_at)),
      h("td", { class: "actions" }, controllable && CONTROLLABLE.has(t.status) ? h("button", { type: "button", class: "more", "aria-label": `Actions for ${name}`, onclick: () => openMenu(t.task_id) }, "⋯") : null),
    );
  }

  // The row has room for a few words; the full sentence is its title.
  function shortControl(action, where) {
    return where === "unacknowledged" ? `${action}: not acknowledged` : where === "waiting" ? `${action} requested` : `${action} acknowledged`;
  }

  // --- actions ------------------------------------------------------------------

  async function openMenu(id) {
    const t = tasks.get(id);
    if (!t) return;
    menuTitle.textContent = t.task_name || t.task_id;
    menuNote.textContent = "";
    const usable = await usableControls(t.status);
    menuButtons.replaceChildren(...usable.map((c) => h("button", { type: "button", "data-op": c.op, onclick: () => control(id, c) }, c.label)));
    if (!usable.length) menuNote.textContent = "Nothing to do for a task that is " + t.status + ".";
    menu.showModal();
  }

  async function control(id, c) {
    menuNote.textContent = `${c.label}: asking…`;
    const r = await sendControl(api, id, c);
    menuNote.textContent = r.text;
    if (r.refused) {
      controllable = false;
      invalidate();
    }
    if (!r.ok) return;
    menuButtons.replaceChildren();
    // The stream brings the new state; a read makes it sure when the
    // stream is behind a reconnect.
    api(`/v1/tasks/${encodeURIComponent(id)}`).then((t) => keep(t) && invalidate(), () => {});
  }

  scroller.addEventListener("scroll", schedule, { passive: true });
  addEventListener("resize", schedule);

  // --- data -------------------------------------------------------------------

  // keep merges a task's state. A control request changes apart from the
  // task's events, so the same state may come again with another request.
  function keep(task, snapshot = false) {
    const held = tasks.get(task.task_id);
    if (tasks.apply(task, snapshot)) return true;
    if (!held || isAfter(held, task)) return false;
    tasks.setControl(task.task_id, task.control);
    return true;
  }

  const offTask = stream.on("task", ({ task, removed, snapshot }) => {
    if (!removed) keep(task, snapshot);
    // A deletion, or a complete snapshot leaving the task out: it is gone.
    // A task only dropped from the stream's own map is still listed.
    else if (task.status === "deleted" || snapshot) tasks.forget(task.task_id);
    else return;
    invalidate();
  });
  stream.subscribe({ all: true });

  const stop = new AbortController();
  (async () => {
    let cursor = "";
    try {
      do {
        const page = await api(`/v1/tasks?limit=${cursor ? `${PAGE}&cursor=${encodeURIComponent(cursor)}` : FIRST_PAGE}`);
        if (stop.signal.aborted) return;
        for (const t of page.tasks) tasks.apply(t, true);
        cursor = page.next_cursor;
        invalidate();
      } while (cursor && tasks.size < MAX_TASKS);
      capped = !!cursor;
      performance.mark("taskpulse:tasks-loaded");
    } catch (e) {
      summary.replaceWith(notice(`Tasks could not be read: ${e.message}`, true));
    }
    loading = false;
    invalidate();
  })();

  drawHead();
  invalidate();

  // "Updated … ago" moves on by itself.
  const tick = setInterval(schedule, 10000);

  return () => {
    stop.abort();
    offTask();
    stream.unsubscribe({ all: true });
    clearInterval(tick);
    cancelAnimationFrame(frame);
    removeEventListener("resize", schedule);
  };
}
