// An entry's history in the console: every kept version, who saved it and when, what changed
// since the version before (the text and headline word by word, the other fields in a list),
// and a way back to any version: "Restore" makes a new version with that content, with
// If-Match, as any edit. When someone changed the entry meanwhile (412), the history is read
// again and the editor decides again on what is now there. Deleted entries come back the
// same way (the console's "Deleted entries" list opens their history).

import { renderEntry } from "../reader/render.js";
import { ApiError, api, entryPath } from "./api.js";
import { diffWords, fieldChanges, htmlText, renderDiff } from "./diff.js";
import { t } from "./i18n.js";
import { el, isolated, shortTime, toast } from "./ui.js";

// "Edited by Maya": what a version's change was, and who made it.
const ACTIONS = {
  "entry.created": (who) => t("Written by %(who)s", { who }),
  "entry.updated": (who) => t("Edited by %(who)s", { who }),
  "entry.published": (who) => t("Published by %(who)s", { who }),
  "entry.returned": (who) => t("Sent back by %(who)s", { who }),
  "entry.deleted": (who) => t("Deleted by %(who)s", { who }),
  "entry.restored": (who) => t("Restored by %(who)s", { who }),
};
const changedBy = (revision) => (ACTIONS[revision.action] || ((who) => t("Changed by %(who)s", { who })))(isolated(revision.by.name || t("someone")));

let me = null;

/** The signed-in person (role and id), read once per page. */
function whoAmI() {
  me ||= api("GET", "/api/me").then(({ data }) => data);
  return me;
}

function dialogElement() {
  let dialog = document.getElementById("history-dialog");
  if (dialog) return dialog;
  dialog = el(
    "dialog",
    { className: "nr-dialog nr-history", id: "history-dialog", "aria-labelledby": "history-title" },
    el(
      "div",
      { className: "nr-history__head" },
      el("h2", { className: "nr-dialog__title", id: "history-title" }, t("History")),
      el("button", { type: "button", className: "nr-btn nr-btn--ghost nr-btn--small", dataset: { close: "" }, "aria-label": t("Close the history") }, t("Close")),
    ),
    el("p", { className: "nr-history__entry", dir: "auto", dataset: { role: "entry-title" } }),
    el("p", { className: "nr-note", role: "status", dataset: { role: "notice" }, hidden: true }),
    el(
      "div",
      { className: "nr-history__body" },
      el("ol", { className: "nr-history__versions", dataset: { role: "versions" }, "aria-label": t("Versions, newest first") }),
      el("section", { className: "nr-history__detail", dataset: { role: "detail" }, "aria-live": "polite" }),
    ),
  );
  document.body.append(dialog);
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  return dialog;
}

/**
 * Open the history of one entry. `onRestored(entry)` is told of a restored version (the list
 * draws it; readers get it over their streams anyway).
 */
export async function openHistory({ slug, entryId, onRestored = () => {} }) {
  const view = new HistoryView(dialogElement(), slug, entryId, onRestored);
  await view.open();
  return view;
}

class HistoryView {
  constructor(dialog, slug, entryId, onRestored) {
    Object.assign(this, { dialog, slug, entryId, onRestored });
    this.revisions = [];
    this.selected = null;
    this.versions = dialog.querySelector("[data-role=versions]");
    this.detail = dialog.querySelector("[data-role=detail]");
    this.notice = dialog.querySelector("[data-role=notice]");
    this.onClick = (event) => this.click(event);
    this.dialog.addEventListener("click", this.onClick);
    this.dialog.addEventListener("close", () => this.dialog.removeEventListener("click", this.onClick), { once: true });
  }

  get path() {
    return `${entryPath(this.slug, this.entryId)}/revisions`;
  }

  /** The newest version with content (the current one, unless the entry was deleted). */
  get latest() {
    return this.revisions[this.revisions.length - 1];
  }

  get deleted() {
    return this.latest?.entry === null;
  }

  async open() {
    this.notice.hidden = true;
    this.versions.replaceChildren();
    this.detail.replaceChildren(el("p", { className: "nr-muted" }, t("Loading the history…")));
    if (!this.dialog.open) this.dialog.showModal();
    try {
      await this.load();
    } catch (error) {
      this.detail.replaceChildren(el("p", { className: "nr-error", role: "alert" }, t("The history cannot be read now: %(reason)s", { reason: error.message })));
      return;
    }
    this.select(this.latest.version);
  }

  async load() {
    const [{ data }, person] = await Promise.all([api("GET", this.path), whoAmI()]);
    this.revisions = data.revisions;
    this.mayRestore = person.role !== "contributor";
    const shown = [...this.revisions].reverse().find((r) => r.entry)?.entry;
    const title = shown?.headline || (shown ? htmlText(shown.body).slice(0, 80) : "");
    this.dialog.querySelector("[data-role=entry-title]").textContent = this.deleted ? t("%(title)s · deleted", { title: isolated(title) }) : title;
    this.renderVersions();
  }

  renderVersions() {
    const items = [...this.revisions].reverse().map((revision) => {
      const current = revision === this.latest && !this.deleted;
      return el(
        "li",
        {},
        el(
          "button",
          {
            type: "button",
            className: "nr-history__version",
            dataset: { version: String(revision.version) },
            "aria-pressed": String(revision.version === this.selected),
          },
          el("span", { className: "nr-history__number" }, `v${revision.version}`),
          el("span", { className: "nr-history__what" }, changedBy(revision)),
          el("time", { className: "nr-history__when", datetime: revision.at }, shortTime(revision.at)),
          current ? el("span", { className: "nr-badge nr-history__current" }, t("current")) : null,
        ),
      );
    });
    this.versions.replaceChildren(...items);
  }

  click(event) {
    const version = event.target.closest(".nr-history__version");
    if (version) {
      this.select(Number(version.dataset.version));
      return;
    }
    const action = event.target.closest("[data-history]")?.dataset.history;
    if (action === "ask") this.askRestore();
    else if (action === "cancel") this.select(this.selected);
    else if (action === "preview") this.togglePreview(event.target.closest("button"));
  }

  select(version) {
    this.selected = version;
    for (const button of this.versions.querySelectorAll(".nr-history__version")) {
      button.setAttribute("aria-pressed", String(Number(button.dataset.version) === version));
    }
    const index = this.revisions.findIndex((r) => r.version === version);
    const revision = this.revisions[index];
    const before = this.revisions.slice(0, index).reverse().find((r) => r.entry)?.entry || null;
    this.detail.replaceChildren(...this.describe(revision, before, index > 0 ? this.revisions[index - 1].version : null));
  }

  describe(revision, before, previous) {
    const heading = el("h3", { className: "nr-history__title" }, t("Version %(version)s", { version: revision.version }));
    const meta = el(
      "p",
      { className: "nr-history__meta" },
      t("%(what)s, %(time)s", { what: changedBy(revision), time: shortTime(revision.at) }),
      revision.restored_from ? ` ${t("(from version %(version)s)", { version: revision.restored_from })}` : "",
    );
    if (revision.entry === null) {
      return [heading, meta, el("p", { className: "nr-muted" }, t("The entry was deleted: readers no longer see it. Restore a version to bring it back."))];
    }
    const parts = [heading, meta];
    const entry = revision.entry;
    if (before) {
      const gap = previous !== null && previous !== revision.version - 1;
      const since = gap
        ? t("Changes since version %(version)s (versions in between are not kept):", { version: before.version })
        : t("Changes since version %(version)s:", { version: before.version });
      parts.push(el("p", { className: "nr-muted nr-small" }, since));
      parts.push(...this.changes(before, entry));
    } else {
      parts.push(el("p", { className: "nr-muted nr-small" }, t("The first version kept.")));
      parts.push(this.field(t("Headline"), renderDiff([{ op: "=", text: entry.headline || "" }])));
      parts.push(this.field(t("Text"), renderDiff([{ op: "=", text: htmlText(entry.body) }])));
    }
    const preview = el("div", { className: "nr-history__preview", dataset: { role: "preview" }, hidden: true });
    preview.append(renderEntry(entry));
    preview.querySelector("article")?.removeAttribute("id");
    const actions = [el("button", { type: "button", className: "nr-btn nr-btn--ghost", dataset: { history: "preview" }, "aria-pressed": "false" }, t("As readers saw it"))];
    const isCurrent = revision === this.latest && !this.deleted;
    if (this.mayRestore && !isCurrent) {
      actions.push(
        el("button", { type: "button", className: "nr-btn nr-btn--primary", dataset: { history: "ask" } }, this.deleted ? t("Bring back version %(version)s", { version: revision.version }) : t("Restore version %(version)s", { version: revision.version })),
      );
    }
    parts.push(el("div", { className: "nr-history__actions" }, ...actions), preview);
    return parts;
  }

  changes(before, after) {
    const rows = [];
    if ((before.headline || "") !== (after.headline || "")) {
      rows.push(this.field(t("Headline"), renderDiff(diffWords(before.headline || "", after.headline || ""))));
    }
    const textBefore = htmlText(before.body);
    const textAfter = htmlText(after.body);
    if (textBefore !== textAfter) rows.push(this.field(t("Text"), renderDiff(diffWords(textBefore, textAfter))));
    else if (before.body !== after.body) rows.push(this.field(t("Text"), el("span", {}, t("Formatting or links changed; the words are the same."))));
    for (const change of fieldChanges(before, after)) {
      const show = (value) => (change.time ? shortTime(value) : value);
      const value = change.before === ""
        ? el("span", { className: "nr-diff" }, el("ins", { className: "nr-diff__ins" }, change.after))
        : el("span", { className: "nr-diff" }, el("del", { className: "nr-diff__del" }, show(change.before)), " → ", el("ins", { className: "nr-diff__ins" }, show(change.after)));
      rows.push(this.field(change.field, value));
    }
    if (!rows.length) rows.push(el("p", { className: "nr-muted" }, t("Nothing readers see changed.")));
    return rows;
  }

  field(name, value) {
    value.dir ||= "auto"; // the entry's own words: their direction is theirs, not the console's
    return el("div", { className: "nr-history__field" }, el("h4", { className: "nr-history__label" }, name), value);
  }

  togglePreview(button) {
    const preview = this.detail.querySelector("[data-role=preview]");
    preview.hidden = !preview.hidden;
    button.setAttribute("aria-pressed", String(!preview.hidden));
  }

  /** Ask before restoring: a correction readers see may go with it. */
  askRestore() {
    const revision = this.revisions.find((r) => r.version === this.selected);
    const published = this.latest.entry?.status === "published" || (this.deleted && revision.entry.status === "published");
    const form = el(
      "form",
      { className: "nr-history__restore", dataset: { role: "restore" } },
      el("p", {}, this.deleted
        ? (published
          ? t("Version %(version)s comes back as a new version: readers see the entry again at once.", { version: revision.version })
          : t("Version %(version)s comes back as a new version.", { version: revision.version }))
        : (published
          ? t("A new version with the content of version %(version)s replaces version %(current)s: readers see it at once. Its place, status and corrections stay.", { version: revision.version, current: this.latest.version })
          : t("A new version with the content of version %(version)s replaces version %(current)s. Its place, status and corrections stay.", { version: revision.version, current: this.latest.version }))),
      published
        ? el("label", { className: "nr-field" }, el("span", { className: "nr-field__label" }, `${t("Correction")} `, el("span", { className: "nr-muted" }, t("optional: shown to readers under the entry"))), el("input", { className: "nr-input", name: "correction", maxlength: "1000", autocomplete: "off" }))
        : null,
      el(
        "div",
        { className: "nr-history__actions" },
        el("button", { type: "button", className: "nr-btn nr-btn--ghost", dataset: { history: "cancel" } }, t("Cancel")),
        el("button", { type: "submit", className: "nr-btn nr-btn--primary" }, t("Restore version %(version)s", { version: revision.version })),
      ),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.restore(revision.version, form);
    });
    this.detail.querySelector(".nr-history__actions")?.replaceWith(form);
    form.querySelector("input, [type=submit]").focus();
  }

  async restore(version, form) {
    const submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    const correction = form.elements.correction?.value.trim();
    const expected = this.latest.version;
    try {
      const { data } = await api("POST", `${this.path}/${version}/restore`, {
        body: correction ? { correction } : undefined,
        headers: { "If-Match": `"${expected}"` },
      });
      this.dialog.close();
      toast(t("Version %(version)s restored: the entry is now at version %(current)s.", { version, current: data.version }));
      this.onRestored(data);
    } catch (error) {
      submit.disabled = false;
      if (error instanceof ApiError && error.status === 412) {
        await this.stale(version);
      } else {
        const messages = error instanceof ApiError ? error.messages.join(" ") : error.message;
        toast(t("Not restored: %(reason)s", { reason: messages }), { kind: "error" });
      }
    }
  }

  /** 412: someone saved meanwhile. Read the history again; the editor looks and decides. */
  async stale(version) {
    try {
      await this.load();
    } catch (error) {
      toast(t("Someone changed this entry, and its history cannot be read now: %(reason)s", { reason: error.message }), { kind: "error" });
      return;
    }
    this.notice.textContent = t("Someone else changed this entry while you looked: it is now at version %(current)s. Look at what changed, then restore version %(version)s again if you still want it.", { current: this.latest.version, version });
    this.notice.hidden = false;
    this.select(this.latest.entry ? this.latest.version : version);
  }
}
