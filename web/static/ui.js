// Small helpers the UI's pages share: building elements whose text is
// always set as text, never parsed as HTML (names and messages may hold
// markup), and writing times and durations in words.

/**
 * Builds an element: attrs are set as attributes (on* as listeners), and
 * children are elements or strings, which become text nodes.
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Node | string | number | null | undefined | false)} children
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = String(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Seconds in words: "45 seconds", "about 3 minutes", "2 h 5 min". */
export function durationWords(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} second${s === 1 ? "" : "s"}`;
  if (s < 3600) {
    const m = Math.round(s / 60);
    return `about ${m} minute${m === 1 ? "" : "s"}`;
  }
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** A unix-ms time as a <time> element in local time. */
export function timeEl(ms, withDate = false) {
  const d = new Date(ms);
  return h("time", { datetime: d.toISOString(), title: d.toLocaleString() }, withDate ? d.toLocaleString() : d.toLocaleTimeString());
}

/** How long ago a unix-ms time was, in words. */
export function ago(ms) {
  return `${durationWords((Date.now() - ms) / 1000)} ago`;
}

/** A status badge. */
export function statusBadge(status) {
  return h("span", { class: "status", "data-status": status }, status);
}

/** A progress bar with its percentage, labelled for screen readers. */
export function progressBar(progress, status, label) {
  const pct = Math.round((progress ?? 0) * 10) / 10;
  const fill = h("div", { class: "fill" });
  fill.style.width = `${pct}%`;
  return h(
    "span",
    { class: "progress" },
    h("span", { class: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": pct, "aria-label": label, "data-status": status }, fill),
    h("span", { class: "pct" }, `${pct}%`),
  );
}

/** A message line shown in place of content: a hint, or an error. */
export function notice(text, error = false) {
  return h("p", { class: error ? "notice error" : "notice muted", role: error ? "alert" : null }, text);
}
