// The blog's entries as the console shows them, live, with actions. Events come over the
// console's one /ws socket (a newsroom connection: it is not counted as a reader), resumed from
// the position the first page reflects. Editing happens in place (edit.js); pin and Breaking
// are one-click edits with If-Match.

import { renderEntry } from "../reader/render.js";
import { parseEventId } from "../reader/stream.js";
import { orderKey, relative } from "../reader/times.js";
import { ApiError, api, blogPath, entryPath } from "./api.js";
import { deletedToast } from "./deleted.js";
import { EditSession } from "./edit.js";
import { contentAttributes } from "./form.js";
import { openHistory } from "./history.js";
import { t } from "./i18n.js";
import { editingMark, placeMark } from "./presence.js";
import { confirmDialog, el, shortTime, toast } from "./ui.js";

const PAGE_SIZE = 30;

const keyOf = (entry) => orderKey(entry.published_at, entry.id);

export class EntryList {
  /**
   * @param {object} options
   * @param {string} options.slug
   * @param {import("./socket.js").MultiBlogSocket} options.socket
   * @param {HTMLElement} options.root the list's container
   * @param {HTMLButtonElement} options.older the "load older" button
   * @param {HTMLElement} options.empty shown when there are no entries
   * @param {HTMLTemplateElement} options.formTemplate
   * @param {(blog: object) => void} options.onBlog a blog.updated event
   * @param {boolean} options.mayChange the person may edit, pin and delete published entries
   */
  constructor({ slug, socket, root, older, empty, formTemplate, onBlog, mayChange = true, presence = null }) {
    Object.assign(this, { slug, socket, root, older, empty, formTemplate, onBlog, mayChange, presence });
    this.onPresence = () => this.markEditing();
    this.entries = new Map(); // id -> entry
    this.cards = new Map(); // id -> card element
    this.sessions = new Map(); // id -> EditSession
    // Ids seen deleted, with the version they had: a response that was in flight when the
    // delete event came (a PATCH, a page of entries) must not draw it again. Only a newer
    // version (a deleted entry restored from its history) brings it back.
    this.gone = new Map();
    this.next = null;
    this.stopped = false;
    this.reloading = null; // events held while the timeline is read again
    this.onClick = (event) => this.click(event);
    this.onOlder = () => this.loadOlder();
    this.ticker = null;
  }

  async start() {
    this.root.replaceChildren();
    this.root.addEventListener("click", this.onClick);
    this.older.addEventListener("click", this.onOlder);
    this.presence?.addEventListener("change", this.onPresence);
    const lastEventId = await this.load();
    if (this.stopped) return;
    this.socket.subscribe(this.slug, lastEventId);
    this.ticker = setInterval(() => this.refreshTimes(), 30000);
  }

  /** Stop following the blog. Its cards stay until the next list clears the container. */
  stop() {
    this.stopped = true;
    this.socket.unsubscribe(this.slug);
    clearInterval(this.ticker);
    this.root.removeEventListener("click", this.onClick);
    this.older.removeEventListener("click", this.onOlder);
    this.presence?.removeEventListener("change", this.onPresence);
  }

  /** Mark the entries someone else is editing (the one edited here too: they both are). */
  markEditing() {
    for (const [id, card] of this.cards) placeMark(card, this.presence?.editorsOf(id) || []);
  }

  /** Read the newest page; entries being edited keep their form. Returns the position. */
  async load() {
    const { data } = await api("GET", `${blogPath(this.slug)}/entries?limit=${PAGE_SIZE}`);
    if (this.stopped) return data.last_event_id; // another blog was chosen meanwhile
    for (const id of [...this.cards.keys()]) {
      if (!this.sessions.has(id)) this.dropCard(id);
    }
    for (const entry of data.entries) this.upsert(entry, { force: true });
    for (const [id, session] of this.sessions) {
      if (!data.entries.some((e) => e.id === id)) session.serverChanged(null);
    }
    this.next = data.next;
    this.older.hidden = !this.next;
    this.updateEmpty();
    return data.last_event_id;
  }

  async loadOlder() {
    if (!this.next) return;
    this.older.disabled = true;
    try {
      const cursor = encodeURIComponent(this.next);
      const { data } = await api("GET", `${blogPath(this.slug)}/entries?limit=${PAGE_SIZE}&before=${cursor}`);
      if (this.stopped) return;
      for (const entry of data.entries) this.upsert(entry);
      this.next = data.next;
      this.older.hidden = !this.next;
    } catch (error) {
      toast(t("Could not load older entries: %(reason)s", { reason: error.message }), { kind: "error" });
    } finally {
      this.older.disabled = false;
    }
  }

  // --- live events ----------------------------------------------------------------------

  apply(event) {
    if (this.reloading) {
      this.reloading.push(event);
      return;
    }
    const { type, data } = event;
    if (type === "entry.created" || type === "entry.updated") this.upsert(data);
    else if (type === "entry.deleted") this.removed(data.id);
    else if (type === "blog.updated") this.onBlog(data);
    else if (type === "reset") this.reload();
  }

  /** `reset`: the stream could not fill a gap. Read the timeline again, then go on from it. */
  async reload() {
    this.reloading = [];
    let position = null;
    for (let attempt = 0; position === null && !this.stopped; attempt += 1) {
      try {
        position = await this.load();
      } catch {
        await new Promise((resolve) => setTimeout(resolve, Math.min(10000, 500 * 2 ** attempt)));
      }
    }
    const held = this.reloading;
    this.reloading = null;
    if (this.stopped) return;
    this.socket.adopt(this.slug, position);
    const seen = parseEventId(position);
    for (const event of held) {
      const id = parseEventId(event.id);
      const stale = seen && id && seen.epoch === id.epoch && id.offset <= seen.offset;
      if (!stale && event.type !== "reset") this.apply(event);
    }
  }

  /** Show an entry, new or changed. An older version than the one shown is ignored. */
  upsert(entry, { force = false } = {}) {
    if (this.gone.has(entry.id) && entry.version <= this.gone.get(entry.id)) return;
    this.gone.delete(entry.id);
    const shown = this.entries.get(entry.id);
    if (shown && !force && shown.version > entry.version) return;
    this.entries.set(entry.id, entry);
    const session = this.sessions.get(entry.id);
    if (session) {
      session.serverChanged(entry);
      this.place(session.card, entry);
      return;
    }
    const card = this.renderCard(entry);
    const old = this.cards.get(entry.id);
    if (old) old.replaceWith(card);
    this.cards.set(entry.id, card);
    this.place(card, entry);
    this.updateEmpty();
  }

  removed(id) {
    this.gone.set(id, Math.max(this.gone.get(id) ?? 0, this.entries.get(id)?.version ?? 0));
    const session = this.sessions.get(id);
    this.entries.delete(id);
    if (session) {
      session.serverChanged(null);
      return;
    }
    this.dropCard(id);
    this.updateEmpty();
  }

  dropCard(id) {
    this.cards.get(id)?.remove();
    this.cards.delete(id);
    this.entries.delete(id);
  }

  /** Keep cards newest first (published_at, then creation), as readers see them. */
  place(card, entry) {
    card.dataset.key = keyOf(entry);
    const key = card.dataset.key;
    let before = null;
    for (const other of this.root.children) {
      if (other !== card && other.dataset.key < key) {
        before = other;
        break;
      }
    }
    if (card.nextElementSibling === before && card.parentNode === this.root) return;
    this.root.insertBefore(card, before);
  }

  updateEmpty() {
    this.empty.hidden = this.cards.size > 0;
  }

  renderCard(entry) {
    const breaking = entry.labels.includes("breaking");
    const view = renderEntry(entry);
    fillAgo(view);
    const meta = [`v${entry.version}`];
    if (entry.updated_at) meta.push(t("edited %(time)s", { time: shortTime(entry.updated_at) }));
    const actions = this.mayChange ? this.actions(entry, breaking) : [];
    const bar = el(
      "div",
      { className: "nr-entry__bar" },
      el("span", { className: "nr-entry__version" }, meta.join(" · ")),
      el("span", { className: "nr-entry__spacer" }),
      ...actions,
    );
    return el(
      "article",
      { className: "nr-entry", dataset: { id: entry.id, version: String(entry.version) } },
      editingMark(this.presence?.editorsOf(entry.id) || []),
      el("div", { className: "nr-entry__view", ...contentAttributes() }, view),
      bar,
    );
  }

  /** Edit, pin, Breaking, history and delete: for those who may change published entries. */
  actions(entry, breaking) {
    return [
      el("button", { type: "button", className: "nr-btn nr-btn--ghost", dataset: { action: "edit" } }, t("Edit")),
      el(
        "button",
        { type: "button", className: "nr-btn nr-btn--ghost", dataset: { action: "pin" }, "aria-pressed": String(entry.pinned) },
        entry.pinned ? t("Unpin") : t("Pin"),
      ),
      el(
        "button",
        { type: "button", className: "nr-btn nr-btn--ghost nr-btn--breaking", dataset: { action: "breaking" }, "aria-pressed": String(breaking) },
        t("Breaking"),
      ),
      el("button", { type: "button", className: "nr-btn nr-btn--ghost", dataset: { action: "history" } }, t("History")),
      el("button", { type: "button", className: "nr-btn nr-btn--ghost nr-btn--danger-text", dataset: { action: "delete" } }, t("Delete")),
    ];
  }

  refreshTimes() {
    for (const card of this.cards.values()) fillAgo(card);
  }

  // --- actions --------------------------------------------------------------------------

  click(event) {
    if (!this.mayChange) return;
    const button = event.target.closest("button[data-action]");
    const card = button?.closest(".nr-entry");
    if (!button || !card || card.parentNode !== this.root) return;
    const id = card.dataset.id;
    const action = button.dataset.action;
    if (action === "edit") this.edit(id);
    else if (action === "pin") this.toggle(id, button, (e) => !e.pinned, (e, on) => ({ pinned: on }), (e) => e.pinned);
    else if (action === "breaking") {
      this.toggle(
        id,
        button,
        (e) => !e.labels.includes("breaking"),
        (e, on) => ({ labels: on ? ["breaking", ...e.labels.filter((l) => l !== "breaking")] : e.labels.filter((l) => l !== "breaking") }),
        (e) => e.labels.includes("breaking"),
      );
    } else if (action === "delete") this.remove(id);
    else if (action === "history") openHistory({ slug: this.slug, entryId: id, onRestored: (entry) => this.upsert(entry) });
  }

  edit(id) {
    const entry = this.entries.get(id);
    const card = this.cards.get(id);
    if (!entry || !card || this.sessions.has(id)) return;
    const session = new EditSession({
      slug: this.slug,
      entry,
      card,
      template: this.formTemplate,
      presence: this.presence,
      onDone: (saved) => {
        this.sessions.delete(id);
        const latest = this.gone.has(id) ? null : saved || this.entries.get(id);
        if (latest) {
          this.entries.delete(id); // let upsert draw the card again
          this.cards.set(id, card);
          this.upsert(latest, { force: true });
        } else {
          this.dropCard(id); // deleted while it was being edited, and the editor let it go
          this.updateEmpty();
        }
      },
    });
    this.sessions.set(id, session);
    session.open();
  }

  /**
   * One-click change of one field. The wish ("pinned", "breaking") is decided at the click; if
   * someone changed the entry meanwhile (412), it is applied again on their newer version.
   */
  async toggle(id, button, wish, patchFor, holds) {
    const first = this.entries.get(id);
    if (!first) return;
    const on = wish(first);
    button.disabled = true;
    try {
      let entry = first;
      for (let attempt = 0; attempt < 3; attempt += 1) {
        if (holds(entry) === on) return; // already so: someone else did it
        try {
          const { data } = await api("PATCH", entryPath(this.slug, id), {
            body: patchFor(entry, on),
            headers: { "If-Match": `"${entry.version}"` },
          });
          this.upsert(data);
          return;
        } catch (error) {
          if (!(error instanceof ApiError) || error.status !== 412) throw error;
          entry = (await api("GET", entryPath(this.slug, id))).data;
          this.upsert(entry);
        }
      }
      toast(t("The entry keeps changing; try again in a moment."), { kind: "error" });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) this.removed(id);
      else toast(t("Not changed: %(reason)s", { reason: error.message }), { kind: "error" });
    } finally {
      button.disabled = false;
    }
  }

  async remove(id) {
    const entry = this.entries.get(id);
    if (!entry) return;
    const confirmed = await confirmDialog({
      title: t("Delete this entry?"),
      message: entry.headline
        ? t("“%(title)s” disappears from every reader's page at once. Its history stays: it can be brought back.", { title: entry.headline })
        : t("It disappears from every reader's page at once. Its history stays: it can be brought back."),
      confirm: t("Delete"),
      danger: true,
    });
    if (!confirmed) return;
    try {
      await api("DELETE", entryPath(this.slug, id));
      this.removed(id);
      deletedToast(this.slug, id, (entry) => this.upsert(entry));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) this.removed(id);
      else toast(t("Not deleted: %(reason)s", { reason: error.message }), { kind: "error" });
    }
  }
}

function fillAgo(scope) {
  for (const node of scope.querySelectorAll("[data-ago]")) {
    node.textContent = relative(new Date(node.dataset.ago));
  }
}
