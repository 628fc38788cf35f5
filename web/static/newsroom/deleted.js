// The way back for a deleted entry: an "Undo" on the toast that says it was deleted, and a
// "Deleted entries" list under a blog's entries, each with its history (which restores it).

import { api, blogPath, entryPath } from "./api.js";
import { htmlText } from "./diff.js";
import { openHistory } from "./history.js";
import { t } from "./i18n.js";
import { el, isolated, shortTime, toast } from "./ui.js";

const UNDO_MS = 15000;

/** Restore the version a delete removed (If-Match: the delete's own version). */
async function undoDelete(slug, entryId) {
  const path = `${entryPath(slug, entryId)}/revisions`;
  const { data } = await api("GET", path);
  const last = data.revisions[data.revisions.length - 1];
  const before = [...data.revisions].reverse().find((r) => r.entry);
  if (!last || last.entry !== null || !before) throw new Error(t("it is no longer deleted"));
  const restored = await api("POST", `${path}/${before.version}/restore`, { headers: { "If-Match": `"${last.version}"` } });
  return restored.data;
}

/** "Entry deleted. [Undo]" for a while; `onRestored(entry)` when it comes back. */
export function deletedToast(slug, entryId, onRestored) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const undo = el("button", { type: "button", className: "nr-btn nr-btn--small nr-toast__action" }, t("Undo"));
  const item = el("div", { className: "nr-toast nr-toast--info", role: "status" }, el("span", {}, t("Entry deleted.")), undo);
  const timer = setTimeout(() => item.remove(), UNDO_MS);
  undo.addEventListener("click", async () => {
    undo.disabled = true;
    clearTimeout(timer);
    try {
      const entry = await undoDelete(slug, entryId);
      item.remove();
      toast(t("The entry is back."));
      onRestored(entry);
    } catch (error) {
      item.remove();
      toast(t("Not brought back: %(reason)s", { reason: error.messages?.join(" ") || error.message }), { kind: "error" });
    }
  });
  box.append(item);
}

/**
 * "Deleted entries" under the blog's entries: read when opened, each with its history.
 * Returns a function that removes it (another blog was chosen).
 */
export function mountDeleted({ slug, after, onRestored }) {
  document.getElementById("deleted-entries")?.remove();
  const list = el("div", { className: "nr-deleted__list" });
  const box = el(
    "details",
    { className: "nr-deleted", id: "deleted-entries" },
    el("summary", {}, t("Deleted entries")),
    list,
  );
  const load = async () => {
    list.replaceChildren(el("p", { className: "nr-muted" }, t("Loading…")));
    try {
      const { data } = await api("GET", `${blogPath(slug)}/deleted`);
      list.replaceChildren(...(data.entries.length ? data.entries.map(row) : [el("p", { className: "nr-muted" }, t("None: an entry deleted here can be brought back."))]));
    } catch (error) {
      list.replaceChildren(el("p", { className: "nr-error" }, t("Cannot be read now: %(reason)s", { reason: error.message })));
    }
  };
  const row = (item) => {
    const title = item.entry?.headline || htmlText(item.entry?.body || "").slice(0, 80) || item.id;
    const history = el("button", { type: "button", className: "nr-btn nr-btn--small", dataset: { id: item.id } }, t("History"));
    return el(
      "div",
      { className: "nr-deleted__item", dataset: { id: item.id } },
      el("div", {}, el("strong", { dir: "auto" }, title), el("div", { className: "nr-muted nr-small" }, t("Deleted by %(who)s, %(time)s", { who: isolated(item.by.name || t("someone")), time: shortTime(item.deleted_at) }))),
      history,
    );
  };
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-id]");
    if (!button) return;
    openHistory({
      slug,
      entryId: button.dataset.id,
      onRestored: (entry) => {
        onRestored(entry);
        load();
      },
    });
  });
  box.addEventListener("toggle", () => box.open && load());
  after.after(box);
  return () => box.remove();
}
