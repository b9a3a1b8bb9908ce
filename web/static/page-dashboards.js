// The dashboards: a list of the tenant's saved dashboards (GET
// /v1/dashboards), a form that makes a new one and a button that deletes
// one. A dashboard made here is the same object the API returns.
import { api, navigate } from "./app.js";
import { ago, h, notice } from "./ui.js";

export default function dashboardsPage(view) {
  const list = h("ul", { class: "dash-list", id: "dashboards" });
  const status = h("p", { role: "status", class: "muted" });
  const titleIn = h("input", { id: "new-dashboard", required: true, maxlength: 200, autocomplete: "off" });

  view.append(
    h("h2", {}, "Dashboards"),
    h(
      "form",
      { class: "filters card", onsubmit: create },
      h("label", {}, "New dashboard ", titleIn),
      h("button", { type: "submit", id: "create-dashboard" }, "Create"),
    ),
    status,
    list,
  );

  async function create(e) {
    e.preventDefault();
    try {
      const d = await api("/v1/dashboards", { method: "POST", body: { title: titleIn.value.trim(), panels: [] } });
      navigate(`/dashboards/${encodeURIComponent(d.id)}?edit=1`);
    } catch (err) {
      status.textContent = `Not created: ${err.message}`;
    }
  }

  async function remove(d) {
    if (!confirm(`Delete the dashboard “${d.title}”?`)) return;
    try {
      await api(`/v1/dashboards/${encodeURIComponent(d.id)}`, { method: "DELETE", headers: { "If-Match": `"${d.version}"` } });
      status.textContent = `Deleted “${d.title}”.`;
      load();
    } catch (err) {
      status.textContent = `Not deleted: ${err.message}`;
    }
  }

  async function load() {
    try {
      const { dashboards } = await api("/v1/dashboards");
      dashboards.sort((a, b) => b.updated_at - a.updated_at);
      list.replaceChildren(
        ...dashboards.map((d) =>
          h(
            "li",
            { class: "card", "data-id": d.id },
            h("a", { href: `/dashboards/${encodeURIComponent(d.id)}`, class: "dash-title" }, d.title),
            h("span", { class: "muted" }, ` ${d.panels.length} panel${d.panels.length === 1 ? "" : "s"} · changed ${ago(d.updated_at)}`),
            h("button", { type: "button", class: "danger", "aria-label": `Delete ${d.title}`, onclick: () => remove(d) }, "Delete"),
          ),
        ),
      );
      if (!dashboards.length) list.append(h("li", { class: "muted" }, "No dashboards yet."));
    } catch (err) {
      list.replaceChildren(notice(`Dashboards could not be read: ${err.message}`, true));
    }
  }

  load();
}
