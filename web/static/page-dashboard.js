// One dashboard, /dashboards/{id}: its panels drawn from GET
// /v1/charts/{kind} over the range the picker names, or over their own
// where their query names one, refreshed on a timer; and an edit mode
// that renames it, adds, edits in place and removes panels, and saves
// with If-Match, so that two editors cannot overwrite each other.
import { api, request } from "./app.js";
import { KINDS, draw } from "./charts.js";
import { h, notice } from "./ui.js";

// The sources each kind can draw (query/CHARTS.md), the default first.
const SOURCES = {
  line: ["metric", "task_activity"],
  area: ["metric", "task_activity"],
  bar: ["metric", "task_activity", "tasks_by_status"],
  pie: ["tasks_by_status"],
  gauge: ["metric"],
  scatter: ["task_durations"],
  heatmap: ["task_durations"],
  table: ["metric", "task_activity", "tasks_by_status", "task_durations"],
};
const RANGES = [["15m", "15 minutes"], ["1h", "1 hour"], ["6h", "6 hours"], ["24h", "24 hours"], ["7d", "7 days"]];
// A panel's own range is its query's from (and to); without one it
// follows the picker. These are the ranges the panel form offers.
const PANEL_RANGES = [["", "The dashboard's"], ...RANGES.map(([v, label]) => [`-${v}`, `Last ${label}`])];
const OWN_RANGE = ["from", "to"];
const REFRESH = [["0", "Off"], ["10", "10 s"], ["30", "30 s"], ["60", "1 min"], ["300", "5 min"]];

export default function dashboardPage(view, id) {
  const path = `/v1/dashboards/${encodeURIComponent(id)}`;
  const q = new URLSearchParams(location.search);
  let dash = null;
  let etag = "";
  let editing = q.has("edit");
  let timer = 0;
  let frees = [];
  let drawing = 0; // counts draws, so that a slow one left behind frees its charts

  const title = h("h2", {}, "Dashboard");
  const range = select("range", RANGES, q.get("range") || "1h");
  const refresh = select("refresh", REFRESH, q.get("refresh") || "0");
  const editBtn = h("button", { type: "button", id: "edit-dashboard", onclick: () => setEditing(!editing) });
  const status = h("p", { role: "status", class: "muted", id: "dash-status" });
  const editor = h("div", { id: "editor" });
  const grid = h("div", { class: "panels", id: "panels" });

  view.append(
    h("p", {}, h("a", { href: "/dashboards" }, "← All dashboards")),
    title,
    h("div", { class: "filters" }, h("label", {}, "Time range ", range), h("label", {}, "Refresh every ", refresh), editBtn),
    status,
    editor,
    grid,
  );

  function select(name, options, value) {
    return h("select", { id: `dash-${name}` }, ...options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
  }

  function keepInAddress() {
    const p = new URLSearchParams();
    if (range.value !== "1h") p.set("range", range.value);
    if (refresh.value !== "0") p.set("refresh", refresh.value);
    if (editing) p.set("edit", "1");
    history.replaceState(null, "", location.pathname + (p.size ? `?${p}` : ""));
  }

  range.addEventListener("change", () => (keepInAddress(), drawPanels()));
  refresh.addEventListener("change", () => (keepInAddress(), schedule()));

  function schedule() {
    clearInterval(timer);
    const s = Number(refresh.value);
    // A panel being edited is left alone until it is saved or put back.
    if (s) timer = setInterval(() => grid.querySelector(".panel-form") || drawPanels(), s * 1000);
  }

  // --- panels -------------------------------------------------------------------

  function panelParams(p) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(p.query ?? {})) {
      for (const one of [v].flat()) params.append(k, String(one));
    }
    if (!params.has("from")) params.set("from", `-${range.value}`);
    return params;
  }

  // rangeWords names a panel's own range, or null when it has none.
  function rangeWords(p) {
    const from = p.query?.from;
    if (from === undefined) return null;
    const named = PANEL_RANGES.find(([v]) => v === String(from));
    return named ? named[1].toLowerCase() : `from ${from}${p.query.to !== undefined ? ` to ${p.query.to}` : ""}`;
  }

  async function drawPanels() {
    frees.forEach((f) => f());
    frees = [];
    grid.replaceChildren();
    const round = ++drawing;
    if (!dash.panels.length) grid.append(notice(editing ? "Add a panel below the title." : "No panels yet: choose Edit to add some."));
    await Promise.all(dash.panels.map((p, i) => drawPanel(p, i, round)));
  }

  async function drawPanel(p, i, round) {
    const body = h("div", { class: "panel-body" }, notice("Loading…"));
    const own = rangeWords(p);
    const card = h("section", { class: "card panel", "data-chart": p.chart, "data-own-range": own ? "true" : null, "aria-label": p.title });
    const actions = editing
      ? h("span", { class: "panel-actions" },
          h("button", { type: "button", class: "edit-panel", "aria-label": `Edit panel ${p.title}`, onclick: () => editPanel(card, i) }, "Edit"),
          h("button", { type: "button", class: "danger", "aria-label": `Remove panel ${p.title}`, onclick: () => removePanel(i) }, "Remove"))
      : null;
    card.append(h("h3", {}, p.title, " ", h("span", { class: "muted" }, p.chart), own ? h("span", { class: "own-range muted" }, own) : null, actions), body);
    grid.append(card);
    try {
      const frame = await api(`/v1/charts/${encodeURIComponent(p.chart)}?${panelParams(p)}`);
      const free = await draw(body, frame, p.title);
      if (round !== drawing) return free();
      frees.push(free);
      body.dataset.drawn = "true";
    } catch (e) {
      body.replaceChildren(notice(e.message, true));
    }
  }

  // --- editing ------------------------------------------------------------------

  function setEditing(on) {
    editing = on;
    keepInAddress();
    editBtn.textContent = editing ? "Done" : "Edit";
    drawEditor();
    drawPanels();
  }

  function drawEditor() {
    if (!editing) return editor.replaceChildren();
    const name = h("input", { id: "dash-title", value: dash.title, maxlength: 200, required: true });
    const add = panelForm(
      { title: "", chart: KINDS[0], query: {} },
      "add-panel",
      (p) => save({ ...dash, panels: [...dash.panels, p] }),
    );
    editor.replaceChildren(
      h("form", { class: "card filters", onsubmit: (e) => (e.preventDefault(), save({ ...dash, title: name.value.trim() })) },
        h("label", {}, "Title ", name), h("button", { type: "submit" }, "Rename")),
      add,
    );
  }

  // editPanel puts the panel's form in place of its chart.
  function editPanel(card, i) {
    const form = panelForm(dash.panels[i], `edit-panel-${i}`, (p) => save({ ...dash, panels: dash.panels.map((q, j) => (j === i ? p : q)) }), () => drawPanels());
    card.replaceChildren(form);
    form.querySelector("input").focus();
  }

  /**
   * A form for one panel: title, chart kind, source, metric, its own range
   * and the chart's other parameters. It calls onSave with the panel; a
   * form with onCancel edits a panel, one without adds one.
   * @param {{title: string, chart: string, query: Record<string, any>}} p
   */
  function panelForm(p, id, onSave, onCancel) {
    const field = (name, el) => ((el.id = `${id}-${name}`), el);
    const query = { ...p.query };
    const pTitle = field("title", h("input", { required: true, maxlength: 200, value: p.title }));
    const kind = field("kind", h("select", {}, ...KINDS.map((k) => h("option", { selected: k === p.chart }, k))));
    const source = field("source", h("select", {}));
    const metric = field("metric", h("input", { autocomplete: "off", placeholder: "metric name", value: query.name ?? "" }));
    const own = field("range", h("select", {}, ...PANEL_RANGES.map(([v, label]) => h("option", { value: v, selected: v === String(query.from ?? "") }, label))));
    const rest = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (k === "source" || k === "name" || (OWN_RANGE.includes(k) && own.value)) continue;
      for (const one of [v].flat()) rest.append(k, String(one));
    }
    const extra = field("params", h("input", { autocomplete: "off", placeholder: "e.g. agg=max&group_by=host", value: rest.toString() }));
    const fillSources = () => {
      const want = source.value || query.source;
      source.replaceChildren(...SOURCES[kind.value].map((s) => h("option", { selected: s === want }, s)));
      metric.disabled = source.value !== "metric";
    };
    kind.addEventListener("change", fillSources);
    source.addEventListener("change", () => (metric.disabled = source.value !== "metric"));
    fillSources();
    const adding = !onCancel;
    return h("form", {
      class: adding ? "card filters panel-form" : "filters panel-form",
      id,
      onsubmit: (e) => {
        e.preventDefault();
        const q = { source: source.value };
        if (source.value === "metric") q.name = metric.value.trim();
        for (const [k, v] of new URLSearchParams(extra.value.trim())) q[k] = k in q ? [q[k], v].flat() : v;
        if (own.value) {
          q.from = own.value;
          delete q.to;
        }
        onSave({ title: pTitle.value.trim(), chart: kind.value, query: q });
      },
    },
      h("label", {}, "Panel title ", pTitle), h("label", {}, "Chart ", kind), h("label", {}, "Source ", source),
      h("label", {}, "Metric ", metric), h("label", {}, "Time range ", own), h("label", {}, "More parameters ", extra),
      h("button", { type: "submit" }, adding ? "Add panel" : "Save panel"),
      adding ? null : h("button", { type: "button", onclick: onCancel }, "Cancel"));
  }

  function removePanel(i) {
    save({ ...dash, panels: dash.panels.filter((_, j) => j !== i) });
  }

  async function save(next) {
    status.textContent = "Saving…";
    try {
      const body = { title: next.title, panels: next.panels.map(({ title, chart, query }) => ({ title, chart, query })) };
      dash = await api(path, { method: "PUT", body, headers: etag ? { "If-Match": etag } : {} });
      etag = `"${dash.version}"`;
      status.textContent = `Saved, version ${dash.version}.`;
      title.textContent = dash.title;
      drawEditor();
      await drawPanels();
    } catch (e) {
      status.textContent = `Not saved: ${e.message}`;
    }
  }

  // --- start --------------------------------------------------------------------

  (async () => {
    try {
      const { data, headers } = await request(path);
      dash = data;
      etag = headers.get("ETag") ?? `"${data.version}"`;
      title.textContent = dash.title;
      document.title = `${dash.title} · TaskPulse`;
      setEditing(editing);
      schedule();
    } catch (e) {
      title.after(notice(e.status === 404 ? "There is no such dashboard." : `The dashboard could not be read: ${e.message}`, true));
    }
  })();

  return () => {
    clearInterval(timer);
    frees.forEach((f) => f());
  };
}
