// Draws the frames of GET /v1/charts/{kind} (query/CHARTS.md): tables as
// HTML tables, the seven other kinds with Apache ECharts, vendored in
// vendor/ and loaded the first time a chart is drawn. Tooltips are drawn
// on the canvas (renderMode "richText"), so series names and labels from
// the data are never parsed as HTML, and ECharts needs no inline style
// sheets or eval, which the page's Content-Security-Policy forbids.
import { h } from "./ui.js";

export const KINDS = ["line", "area", "bar", "pie", "gauge", "scatter", "heatmap", "table"];

let library;
const echarts = () => (library ??= import("./vendor/echarts.esm.min.js"));

/**
 * Draws frame into box (replacing what it held) and returns a function
 * that frees the chart. label names the chart for screen readers.
 * @param {HTMLElement} box
 * @param {any} frame
 * @param {string} label
 */
export async function draw(box, frame, label) {
  if (frame.kind === "table") {
    box.replaceChildren(table(frame, label));
    return () => {};
  }
  const lib = await echarts();
  // A box taken out while the library loaded (the page moved on, the
  // panels were drawn again) gets no chart.
  if (!box.isConnected) return () => {};
  const canvas = h("div", { class: "chart", role: "img", "aria-label": `${label}: ${frame.kind} chart` });
  box.replaceChildren(canvas);
  const chart = lib.init(canvas, null, { renderer: "canvas" });
  chart.setOption(option(frame));
  const watch = new ResizeObserver(() => chart.resize());
  watch.observe(canvas);
  return () => {
    watch.disconnect();
    chart.dispose();
  };
}

// Hidden at once rather than on a timer: a rich-text tooltip's timer is
// not cleared when its chart is disposed, as the panels are on a redraw.
const tooltip = (trigger) => ({ trigger, renderMode: "richText", confine: true, hideDelay: 0 });
const grid = { left: 8, right: 16, top: 32, bottom: 8, containLabel: true };
const legend = (n) => (n > 1 ? { type: "scroll", top: 0 } : undefined);
const timeAxis = { type: "time", axisLabel: { hideOverlap: true } };
// Every series is painted in one frame: painted progressively, a chart
// disposed before its last frame (the panels drawn again) would paint on.
const whole = { progressive: 0 };

function option(f) {
  switch (f.kind) {
    case "line":
    case "area":
    case "bar": {
      const time = f.x.type === "time";
      return {
        animation: false,
        tooltip: tooltip("axis"),
        legend: legend(f.series.length),
        grid,
        xAxis: time ? timeAxis : { type: "category", data: f.x.values },
        yAxis: { type: "value" },
        series: f.series.map((s) => ({
          ...whole,
          name: s.name,
          type: f.kind === "bar" ? "bar" : "line",
          areaStyle: f.kind === "area" ? {} : undefined,
          stack: f.kind === "area" ? "total" : undefined,
          // A lone sample between empty buckets shows as its dot.
          showSymbol: true,
          symbolSize: 4,
          data: time ? f.x.values.map((t, i) => [t, s.values[i]]) : s.values,
        })),
      };
    }
    case "pie":
      return {
        animation: false,
        tooltip: tooltip("item"),
        series: [{ type: "pie", radius: ["35%", "65%"], data: f.slices.map((s) => ({ name: s.label, value: s.value })) }],
      };
    case "gauge":
      return {
        animation: false,
        series: [
          {
            type: "gauge",
            min: f.min ?? 0,
            max: f.max || 100,
            data: [{ value: f.value ?? 0 }],
            splitNumber: 5,
            axisLabel: { fontSize: 10, distance: 14 },
            detail: { formatter: (v) => (f.value === null ? "no data" : `${round(v)}${f.unit ? ` ${f.unit}` : ""}`), fontSize: 16 },
          },
        ],
      };
    case "scatter":
      return {
        animation: false,
        tooltip: { ...tooltip("item"), formatter: (p) => `${p.data[2]}: ${round(p.data[1])} ${f.y.unit ?? ""}` },
        grid,
        xAxis: timeAxis,
        yAxis: { type: "value", name: f.y.unit ?? f.y.name, nameTextStyle: { align: "left" } },
        series: [{ ...whole, type: "scatter", symbolSize: 6, data: f.points.map((p) => [p.x, p.y, p.id]) }],
      };
    case "heatmap": {
      const data = [];
      let max = 0;
      f.counts.forEach((row, i) =>
        row.forEach((n, j) => {
          data.push([i, j, n || "-"]);
          max = Math.max(max, n);
        }),
      );
      return {
        animation: false,
        tooltip: tooltip("item"),
        grid: { ...grid, bottom: 40 },
        xAxis: { type: "category", data: f.x.map((t) => new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })) },
        yAxis: { type: "category", data: f.y.map((y) => `≥ ${ms(y)}`) },
        visualMap: { min: 0, max: max || 1, calculable: false, orient: "horizontal", left: "center", bottom: 0, itemHeight: 80 },
        series: [{ ...whole, type: "heatmap", data }],
      };
    }
  }
  throw new Error(`no chart of kind ${f.kind}`);
}

function table(f, label) {
  const cell = (v, type) => (v === null || v === undefined ? "—" : type === "time" ? new Date(v).toLocaleString() : type === "number" ? round(v) : String(v));
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": label },
    h(
      "table",
      { class: "frame" },
      h("thead", {}, h("tr", {}, ...f.columns.map((c) => h("th", { scope: "col" }, c.name)))),
      h("tbody", {}, ...f.rows.slice(0, 500).map((r) => h("tr", {}, ...r.map((v, i) => h("td", {}, cell(v, f.columns[i].type)))))),
    ),
    f.truncated || f.rows.length > 500 ? h("p", { class: "muted" }, "Only the first rows are shown.") : null,
  );
}

const round = (v) => (typeof v === "number" ? Math.round(v * 100) / 100 : v);
const ms = (v) => (v >= 1000 ? `${round(v / 1000)} s` : `${v} ms`);
