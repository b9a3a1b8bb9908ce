// One dashboard, /dashboards/{id}: its panels drawn from GET
// /v1/charts/{kind} over the range the picker names, refreshed on a
// timer, and an edit mode that renames it, adds and removes panels and
// saves with If-Match, so that two editors cannot overwrite each other.
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
    if (s) timer = setInterval(drawPanels, s * 1000);
  }

  // --- panels -------------------------------------------------------------------

  function panelParams(p) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(p.query ?? {})) {
      if (k === "from" || k === "to") continue; // the picker's range wins
      for (const one of Array.isArray(v) ? v : [v]) params.append(k, String(one));
    }
    params.set("from", `-${range.value}`);
    return params;
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
    const remove = editing ? h("button", { type: "button", class: "danger", "aria-label": `Remove panel ${p.title}`, onclick: () => removePanel(i) }, "Remove") : null;
    grid.append(h("section", { class: "card panel", "data-chart": p.chart, "aria-label": p.title }, h("h3", {}, p.title, " ", h("span", { class: "muted" }, p.chart), remove), body));
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
    const pTitle = h("input", { id: "panel-title", required: true, maxlength: 200 });
    const kind = h("select", { id: "panel-kind" }, ...KINDS.map((k) => h("option", {}, k)));
    const source = h("select", { id: "panel-source" });
    const metric = h("input", { id: "panel-metric", autocomplete: "off", placeholder: "metric name" });
    const extra = h("input", { id: "panel-params", autocomplete: "off", placeholder: "e.g. agg=max&group_by=host" });
    const fillSources = () => {
      source.replaceChildren(...SOURCES[kind.value].map((s) => h("option", {}, s)));
      metric.disabled = source.value !== "metric";
    };
    kind.addEventListener("change", fillSources);
    source.addEventListener("change", () => (metric.disabled = source.value !== "metric"));
    fillSources();
    editor.replaceChildren(
      h("form", { class: "card filters", onsubmit: (e) => (e.preventDefault(), save({ ...dash, title: name.value.trim() })) },
        h("label", {}, "Title ", name), h("button", { type: "submit" }, "Rename")),
      h("form", {
        class: "card filters", id: "add-panel",
        onsubmit: (e) => {
          e.preventDefault();
          const query = { source: source.value };
          if (source.value === "metric") query.name = metric.value.trim();
          for (const [k, v] of new URLSearchParams(extra.value.trim())) query[k] = k in query ? [query[k], v].flat() : v;
          save({ ...dash, panels: [...dash.panels, { title: pTitle.value.trim(), chart: kind.value, query }] }).then((ok) => ok && (pTitle.value = ""));
        },
      },
        h("label", {}, "Panel title ", pTitle), h("label", {}, "Chart ", kind), h("label", {}, "Source ", source),
        h("label", {}, "Metric ", metric), h("label", {}, "More parameters ", extra), h("button", { type: "submit" }, "Add panel")),
    );
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
      return true;
    } catch (e) {
      status.textContent = `Not saved: ${e.message}`;
      return false;
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
