// Editing one entry in place, with If-Match. When someone else saved first (412), the editor
// sees both versions and chooses: keep theirs, keep mine, or go on editing. Nothing is
// overwritten without that choice, and nothing typed is thrown away without it.

import { renderEntry } from "../reader/render.js";
import { ApiError, api, entryPath } from "./api.js";
import { renderable } from "./embeds.js";
import { EntryForm, contentAttributes, mediaList } from "./form.js";
import { t } from "./i18n.js";
import { cleanHtml, linkify } from "./richtext.js";
import { el, shortTime } from "./ui.js";

const FIELDS = ["headline", "body", "labels", "pinned", "author", "published_at", "media"];

/** An entry's fields as the form holds them, for comparing. */
function comparable(entry) {
  return {
    headline: entry.headline || "",
    body: linkify(cleanHtml(entry.body || "")), // as the form would hold it (no rel="…" and such)
    labels: entry.labels || [],
    pinned: Boolean(entry.pinned),
    author: entry.author || "",
    published_at: entry.published_at ? new Date(entry.published_at).toISOString() : "",
    media: mediaList(entry.media).map(normalMedia),
  };
}

/** What an editor can change about a photo or an embed (the server fills in the rest). */
function normalMedia(m) {
  const type = m.type || "image";
  if (type === "embed") return { type, url: m.url, caption: m.caption || null };
  return { type, url: m.url, caption: m.caption || null, credit: m.credit || null, alt: m.alt || null, decorative: Boolean(m.decorative) };
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** The PATCH body that turns `base` into what the form holds: only the fields that differ. */
function patchFrom(values, base) {
  const from = comparable(base);
  const to = {
    ...values,
    media: mediaList(values.media).map(normalMedia),
    published_at: values.published_at ? new Date(values.published_at).toISOString() : "",
  };
  const patch = {};
  for (const field of FIELDS) {
    if (same(from[field], to[field])) continue;
    if (field === "media") patch.media = mediaList(values.media).map(strip);
    else if (field === "headline" || field === "author") patch[field] = to[field] || null;
    else if (field === "published_at") {
      if (to.published_at) patch.published_at = to.published_at;
    } else patch[field] = to[field];
  }
  return patch;
}

function strip(media) {
  return Object.fromEntries(Object.entries(media).filter(([, v]) => v !== null && v !== ""));
}

export class EditSession {
  constructor({ slug, entry, card, template, onDone, presence = null }) {
    this.slug = slug;
    this.presence = presence; // says what this console edits (presence.js)
    this.base = entry; // the version these edits are made on
    this.latest = entry; // the newest version the stream told us of (null: deleted)
    this.card = card;
    this.onDone = onDone;
    this.form = new EntryForm(template, {
      submitLabel: t("Save changes"),
      editing: true,
      onSubmit: () => this.save(),
      onCancel: () => this.close(null),
    });
    this.form.element.classList.add("nr-form--edit");
    this.form.setEditing(entry);
    this.conflictBox = null;
  }

  open() {
    this.form.fill(this.base);
    this.card.classList.add("nr-entry--editing");
    this.card.replaceChildren(this.form.element);
    const others = this.presence?.editorsOf(this.base.id) || [];
    if (others.length) {
      const names = others.map((p) => p.name).join(", ");
      this.form.showNotice(t("%(names)s is editing this entry too. Agree who goes first: whoever saves second chooses between both versions.", { names }));
    }
    this.presence?.edit(this.base.id);
    this.form.rich.focus();
  }

  close(saved) {
    this.card.classList.remove("nr-entry--editing");
    this.presence?.done(this.base.id);
    this.onDone(saved);
  }

  /** The stream reported a newer version (or a delete) while this editor types. */
  serverChanged(entry) {
    this.latest = entry;
    if (this.conflictBox) return;
    if (entry === null) {
      this.form.showNotice(t("Someone deleted this entry while you were editing it. Copy what you need before you cancel."));
    } else if (entry.version !== this.base.version) {
      this.form.showNotice(
        t("Someone else saved this entry (version %(version)s) while you were editing. When you save, you choose which version to keep.", { version: entry.version }),
      );
    }
  }

  async save() {
    const values = this.form.values();
    const patch = patchFrom(values, this.base);
    if (values.correction && this.base.status === "published") patch.correction = values.correction;
    if (this.base.status === "scheduled" && values.publish_at && values.publish_at !== this.base.publish_at) {
      patch.publish_at = values.publish_at;
    }
    if (Object.keys(patch).length === 0) {
      this.close(null);
      return;
    }
    try {
      const { data } = await api("PATCH", entryPath(this.slug, this.base.id), {
        body: patch,
        headers: { "If-Match": `"${this.base.version}"` },
      });
      this.close(data);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 412) await this.conflict(values);
      else if (error.status === 404) this.serverChanged(null);
      else if (error.retryable) {
        this.form.showErrors([t("Not saved: %(reason)s Your changes are still here; save again when the server is back.", { reason: error.message })]);
      } else this.form.showErrors(error.messages.map((m) => t("Not saved: %(reason)s", { reason: m })));
    }
  }

  /** 412: fetch their version and let the editor choose. */
  async conflict(mine) {
    let theirs;
    try {
      theirs = (await api("GET", entryPath(this.slug, this.base.id))).data;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) this.serverChanged(null);
      else this.form.showErrors([t("Someone else changed this entry, and it cannot be read now: %(reason)s", { reason: error.message })]);
      return;
    }
    if (Object.keys(patchFrom(mine, theirs)).length === 0) {
      this.close(theirs); // it already says what we wanted (our earlier attempt went through)
      return;
    }
    this.showConflict(mine, theirs);
  }

  showConflict(mine, theirs) {
    const preview = (entry) => {
      const node = renderEntry(entry);
      node.removeAttribute("id");
      return el("div", contentAttributes(), node);
    };
    const mineEntry = {
      ...theirs,
      ...mine,
      headline: mine.headline || null,
      author: mine.author || null,
      media: renderable(mine.media),
      published_at: mine.published_at || theirs.published_at,
      updated_at: null,
    };
    const lede = theirs.updated_at
      ? t("Version %(version)s was saved at %(time)s, after you started editing. Nothing is lost: choose which version readers see.", { version: theirs.version, time: shortTime(theirs.updated_at) })
      : t("Version %(version)s was saved after you started editing. Nothing is lost: choose which version readers see.", { version: theirs.version });
    const keepMine = el("button", { type: "button", className: "nr-btn nr-btn--primary", dataset: { choice: "mine" } }, t("Keep mine"));
    const takeTheirs = el("button", { type: "button", className: "nr-btn", dataset: { choice: "theirs" } }, t("Take theirs"));
    const backToEdit = el("button", { type: "button", className: "nr-btn nr-btn--ghost", dataset: { choice: "edit" } }, t("Edit mine further"));
    this.conflictBox = el(
      "section",
      { className: "nr-conflict", role: "alert", "aria-labelledby": `conflict-${theirs.id}` },
      el("h3", { className: "nr-conflict__title", id: `conflict-${theirs.id}` }, t("Someone else changed this entry")),
      el(
        "p",
        { className: "nr-conflict__lede" },
        lede,
      ),
      el(
        "div",
        { className: "nr-conflict__versions" },
        el("div", { className: "nr-conflict__version", dataset: { version: "theirs" } }, el("h4", {}, t("Theirs · version %(version)s", { version: theirs.version })), el("div", {}, preview(theirs))),
        el("div", { className: "nr-conflict__version nr-conflict__version--mine", dataset: { version: "mine" } }, el("h4", {}, t("Yours · not saved")), el("div", {}, preview(mineEntry))),
      ),
      el("div", { className: "nr-conflict__actions" }, backToEdit, takeTheirs, keepMine),
    );
    keepMine.addEventListener("click", async () => {
      keepMine.disabled = true;
      this.rebase(theirs);
      await this.save(); // mine on top of theirs; another 412 shows this view again
      keepMine.disabled = false;
    });
    takeTheirs.addEventListener("click", () => {
      this.conflictBox.remove();
      this.conflictBox = null;
      this.close(theirs);
    });
    backToEdit.addEventListener("click", () => {
      this.rebase(theirs);
      this.form.showNotice(t("Editing on top of version %(version)s. Saving keeps what the form shows.", { version: theirs.version }));
      this.form.rich.focus();
    });
    this.form.element.hidden = true;
    this.card.append(this.conflictBox);
    keepMine.focus();
  }

  /** From now on, edits apply to `theirs`; the form still shows mine. */
  rebase(theirs) {
    this.base = theirs;
    this.conflictBox?.remove();
    this.conflictBox = null;
    this.form.element.hidden = false;
    this.form.showErrors([]);
  }
}
