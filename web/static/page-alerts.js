// The alerts page: firing and pending alerts, each saying whether a
// silence holds back its notifications (a silence can be made from each
// alert, and the silence holding one expired from it),
// the rules with their state, the silences (expire one), and the
// notification centre: history, unread count, mark as read, new ones
// arriving live from the stream.
import { api, setUnread, stream, taskHref, unreadCount } from "./app.js";
import { ago, h, notice, timeEl } from "./ui.js";

const OPEN = new Set(["firing", "pending"]);
// The notification centre shows this many, the newest first.
const MAX_NOTES = 200;
const SILENCE_FOR = [["1h", "1 hour"], ["4h", "4 hours"], ["24h", "1 day"], ["168h", "1 week"]];

export default function alertsPage(view) {
  const alertsBox = h("div", { id: "alerts" });
  const rulesBox = h("div", { id: "rules" });
  const silencesBox = h("div", { id: "silences" });
  const notesBox = h("ol", { id: "notifications-list", class: "notes" });
  const unreadOnly = h("input", { type: "checkbox", id: "unread-only" });
  const unreadTitle = h("span", { id: "unread-count", class: "muted" });
  const status = h("p", { role: "status", class: "muted", id: "alerts-status" });
  let alerts = [];
  let notes = [];
  let silences = new Map(); // the unexpired ones, by id

  const section = (id, label, ...children) => h("section", { class: "card", "aria-labelledby": id }, h("h3", { id }, ...label), ...children);
  view.append(
    h("h2", {}, "Alerts"),
    status,
    h("div", { class: "columns" },
      h("div", {},
        section("alerts-title", ["Firing and pending"], alertsBox),
        section("rules-title", ["Rules"], rulesBox),
        section("silences-title", ["Silences"], silencesBox),
      ),
      section("notes-title", ["Notifications ", unreadTitle],
        h("div", { class: "filters" },
          h("label", {}, unreadOnly, " Unread only"),
          h("button", { type: "button", id: "read-all", onclick: readAll }, "Mark all as read")),
        notesBox),
    ),
  );

  // --- alerts and rules -----------------------------------------------------

  async function loadAlerts() {
    try {
      const [a, r] = await Promise.all([api("/v1/alerts"), api("/v1/alert-rules")]);
      alerts = a.alerts.filter((x) => OPEN.has(x.state));
      drawAlerts();
      drawRules(r.rules);
    } catch (e) {
      alertsBox.replaceChildren(notice(`Alerts could not be read: ${e.message}`, true));
    }
  }

  function drawAlerts() {
    alertsBox.replaceChildren(
      ...alerts.map((a) =>
        h("article", { class: "alert", "data-state": a.state, "data-rule": a.rule_id },
          h("p", {}, h("span", { class: "state", "data-state": a.state }, a.state), " ", h("strong", {}, a.labels?.rule_name || a.rule_id), " · since ", timeEl(a.since, true)),
          a.silenced ? silencedNote(a.silenced_by) : null,
          a.summary ? h("p", {}, a.summary) : null,
          a.task_id ? h("p", {}, "Task ", h("a", { href: taskHref(a.task_id) }, a.task_id)) : null,
          a.silenced && a.silenced_by ? expireButton(a) : silenceForm(a)),
      ),
    );
    if (!alerts.length) alertsBox.append(notice("Nothing is firing or pending."));
  }

  // silencedNote says which silence holds the alert's notifications back.
  function silencedNote(id) {
    const sl = silences.get(id);
    return h("p", { class: "silenced" }, h("span", { class: "state", "data-state": "silenced" }, "silenced"), " notifications held back",
      ...(sl ? [" until ", timeEl(sl.ends_at, true), " by ", h("code", {}, matchersText(sl))] : []));
  }

  const matchersText = (sl) => sl.matchers.map((m) => `${m.name}${m.op}"${m.value}"`).join(", ");

  function silenceForm(a) {
    const dur = h("select", { "aria-label": "Silence for" }, ...SILENCE_FOR.map(([v, l]) => h("option", { value: v }, l)));
    const comment = h("input", { "aria-label": "Comment", placeholder: "why", maxlength: 1024 });
    const thisTask = a.task_id ? h("input", { type: "checkbox", checked: true, "aria-label": "Only this task" }) : null;
    return h("form", {
      class: "filters silence-form",
      onsubmit: async (e) => {
        e.preventDefault();
        const matchers = [{ name: "rule", op: "=", value: a.rule_id }];
        if (thisTask?.checked) matchers.push({ name: "task_id", op: "=", value: a.task_id });
        try {
          await api("/v1/silences", { method: "POST", body: { matchers, duration: dur.value, comment: comment.value } });
          status.textContent = `Silenced ${a.rule_id}${thisTask?.checked ? ` for task ${a.task_id}` : ""}.`;
          loadSilences().then(loadAlerts);
        } catch (err) {
          status.textContent = `Not silenced: ${err.message}`;
        }
      },
    }, dur, thisTask ? h("label", {}, thisTask, " only this task") : null, comment, h("button", { type: "submit" }, "Silence"));
  }

  // expireButton ends the silence that holds a silenced alert, in place
  // of a form that would make another.
  function expireButton(a) {
    return h("p", { class: "filters" },
      h("button", { type: "button", class: "danger expire-silence", onclick: () => expire({ id: a.silenced_by }) }, "Expire silence"));
  }

  function drawRules(rules) {
    const state = (r) => {
      const mine = alerts.filter((a) => a.rule_id === r.id);
      const firing = mine.filter((a) => a.state === "firing").length;
      const pending = mine.length - firing;
      return firing ? `firing (${firing})` : pending ? `pending (${pending})` : "ok";
    };
    rulesBox.replaceChildren(
      h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Rules" },
        h("table", { class: "frame" },
          h("thead", {}, h("tr", {}, ...["Rule", "Kind", "Severity", "State"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, ...rules.map((r) => {
            const s = state(r);
            return h("tr", { "data-rule": r.id }, h("td", {}, r.name || r.id), h("td", {}, r.kind), h("td", {}, r.severity), h("td", {}, h("span", { class: "state", "data-state": s.split(" ")[0] }, s)));
          })))),
    );
    if (!rules.length) rulesBox.replaceChildren(notice("No rules."));
  }

  // --- silences -------------------------------------------------------------

  async function loadSilences() {
    try {
      const list = (await api("/v1/silences")).silences.filter((s) => s.state !== "expired");
      silences = new Map(list.map((s) => [s.id, s]));
      silencesBox.replaceChildren(
        ...list
          .map((s) =>
            h("article", { class: "silence", "data-id": s.id },
              h("p", {}, h("code", {}, matchersText(s))),
              h("p", { class: "muted" }, `${s.state} until `, timeEl(s.ends_at, true), s.comment ? ` · ${s.comment}` : ""),
              h("button", { type: "button", class: "danger", onclick: () => expire(s) }, "Expire")),
          ),
      );
      if (!silencesBox.children.length) silencesBox.append(notice("No silences."));
    } catch (e) {
      silencesBox.replaceChildren(notice(`Silences could not be read: ${e.message}`, true));
    }
  }

  async function expire(s) {
    try {
      await api(`/v1/silences/${encodeURIComponent(s.id)}`, { method: "DELETE" });
      status.textContent = "Silence expired.";
      loadSilences().then(loadAlerts);
    } catch (e) {
      status.textContent = `Not expired: ${e.message}`;
    }
  }

  // --- notifications --------------------------------------------------------

  async function loadNotes() {
    try {
      const all = await api(`/v1/notifications?limit=${MAX_NOTES}`);
      notes = all.notifications;
      setUnread(all.unread);
      drawNotes();
    } catch (e) {
      notesBox.replaceChildren(notice(`Notifications could not be read: ${e.message}`, true));
    }
  }

  function drawNotes() {
    unreadTitle.textContent = `(${unreadCount()} unread)`;
    const shown = unreadOnly.checked ? notes.filter((n) => !n.read_at) : notes;
    notesBox.replaceChildren(
      ...shown.map((n) =>
        h("li", { "data-severity": n.severity, "data-read": String(!!n.read_at), "data-id": n.id },
          h("p", {}, h("span", { class: "severity" }, n.severity), " ", h("strong", {}, n.title || n.rule), " · ", h("span", { class: "muted" }, ago(n.created_at)), " ", n.read_at ? null : h("span", { class: "badge" }, "new")),
          n.body ? h("p", {}, n.body) : null,
          n.task_id ? h("p", {}, h("a", { href: taskHref(n.task_id) }, `task ${n.task_id}`)) : null,
          n.read_at ? null : h("button", { type: "button", onclick: () => markRead(n) }, "Mark as read")),
      ),
    );
    if (!shown.length) notesBox.append(h("li", { class: "muted" }, "No notifications."));
  }

  async function markRead(n) {
    try {
      Object.assign(n, await api(`/v1/notifications/${encodeURIComponent(n.id)}/read`, { method: "POST" }));
      n.read_at ||= Date.now();
      setUnread(unreadCount() - 1);
      drawNotes();
    } catch (e) {
      status.textContent = `Not marked: ${e.message}`;
    }
  }

  async function readAll() {
    await Promise.all(notes.filter((n) => !n.read_at).map(markRead));
  }

  unreadOnly.addEventListener("change", drawNotes);
  // A burst of notifications (a rule firing for many tasks at once) is
  // drawn once a frame, and the alerts read again at most once a second.
  let frame = 0;
  let reload = 0;
  const off = stream.on("notification", (n) => {
    notes = [n, ...notes.filter((x) => x.id !== n.id)].slice(0, MAX_NOTES);
    frame ||= requestAnimationFrame(() => ((frame = 0), drawNotes()));
    reload ||= setTimeout(() => ((reload = 0), loadAlerts()), 1000);
  });

  // The silences first, so that an alert names the one that holds it.
  loadSilences().then(loadAlerts);
  loadNotes();
  // Alerts change state with time (a pending one fires after "for").
  const tick = setInterval(loadAlerts, 15000);
  return () => {
    off();
    clearInterval(tick);
    clearTimeout(reload);
    cancelAnimationFrame(frame);
  };
}
