// The newsroom panel: what readers do not see yet. The contributions queue (with its count),
// drafts and scheduled entries of one blog, kept live over the blog's newsroom stream
// (GET /api/blogs/{slug}/newsroom/events, read with fetch so the token goes in a header; the
// public streams never carry any of this). Editors publish, send back, edit and delete;
// contributors follow their own entries and edit or withdraw them until they are published.

import { renderEntry } from "../reader/render.js";
import { accessEnded, reasonOf } from "./access.js";
import { ApiError, api, blogPath, entryPath, token } from "./api.js";
import { EditSession } from "./edit.js";
import { contentAttributes } from "./form.js";
import { openHistory } from "./history.js";
import { t } from "./i18n.js";
import { editingMark, placeMark } from "./presence.js";
import { confirmDialog, el, syncChildren, toast } from "./ui.js";

const TABS = ["submitted", "draft", "scheduled"];
const STATUS_TEXT = { submitted: () => t("Awaiting approval"), draft: () => t("Draft"), scheduled: () => t("Scheduled") };
const EMPTY = {
  submitted: () => t("No contributions wait for approval."),
  draft: () => t("No drafts. Choose “Save as draft” under the composer to keep one here."),
  scheduled: () => t("Nothing scheduled. Choose “Schedule” under the composer."),
};
const RETRY_MS = 2000;

/** "in 4:05", "in 1 h 12 min", "now" */
export function countdown(iso, now = Date.now()) {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  if (seconds <= 0) return t("publishing now…");
  if (seconds < 3600) return t("in %(minutes)s:%(seconds)s", { minutes: Math.floor(seconds / 60), seconds: String(seconds % 60).padStart(2, "0") });
  const hours = Math.floor(seconds / 3600);
  if (hours < 48) return t("in %(hours)s h %(minutes)s min", { hours, minutes: Math.floor((seconds % 3600) / 60) });
  return t("in %(days)s days", { days: Math.floor(hours / 24) });
}

export class Workflow {
  constructor({ slug, me, root, formTemplate, onPublished, presence = null, onConnected, onAlert, onWaiting }) {
    this.slug = slug;
    this.me = me;
    this.root = root;
    this.list = root.querySelector("#workflow-list");
    this.empty = root.querySelector("#workflow-empty");
    this.formTemplate = formTemplate;
    this.onPublished = onPublished || (() => {});
    this.presence = presence;
    this.onConnected = onConnected || (() => {});
    // Something this person should hear of: (kind, entry), kind "contribution" | "scheduled"
    // | "published" | "sent-back" (alerts.js has the words).
    this.onAlert = onAlert || (() => {});
    this.onWaiting = onWaiting || (() => {}); // how many contributions wait (the queue)
    // The stream ended or was refused: (status, the last word the server sent, if any).
    this.onPresence = () => this.remark();
    this.entries = new Map();
    this.sessions = new Map(); // entry id -> EditSession
    this.tab = "submitted";
    this.lastEventId = null;
    this.abort = new AbortController();
    this.stopped = false;
    this.ticker = setInterval(() => this.tick(), 1000);
    this.onClick = (event) => this.click(event);
    root.addEventListener("click", this.onClick);
  }

  get contributor() {
    return this.me.role === "contributor";
  }

  /** Entries this person works on here: all for editors, their own for a contributor. */
  visible(entry) {
    return !this.contributor || entry.created_by === this.me.id;
  }

  async start() {
    // A contributor schedules nothing: its entries wait for an editor.
    this.root.querySelector("[data-tab=scheduled]").hidden = this.contributor;
    if (this.contributor && this.tab === "scheduled") this.tab = "submitted";
    this.root.querySelector("#workflow-hint").textContent = this.contributor
      ? t("Your contributions: an editor approves them before readers see them.")
      : t("Readers see none of these until they are published.");
    this.presence?.addEventListener("change", this.onPresence);
    await this.load();
    this.stream();
  }

  stop() {
    this.stopped = true;
    this.presence?.removeEventListener("change", this.onPresence);
    this.abort.abort();
    clearInterval(this.ticker);
    this.root.removeEventListener("click", this.onClick);
  }

  async load() {
    const { data } = await api("GET", `${blogPath(this.slug)}/entries?status=all&limit=100`);
    this.entries = new Map(data.entries.map((e) => [e.id, e]));
    this.lastEventId = data.last_event_id;
    this.render();
  }

  // --- the newsroom stream ------------------------------------------------------------

  async stream() {
    while (!this.stopped) {
      try {
        const headers = { Authorization: `Bearer ${token.get()}`, Accept: "text/event-stream" };
        if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
        const response = await fetch(`${blogPath(this.slug)}/newsroom/events`, { headers, cache: "no-store", signal: this.abort.signal });
        if (!response.ok) {
          let problem = null;
          try {
            problem = await response.json();
          } catch {
            problem = null;
          }
          throw new ApiError(response.status, problem, response.headers);
        }
        this.root.dataset.stream = "live";
        this.onConnected();
        await this.read(response.body.getReader());
        if (this.stopped) return;
        // The server ended the stream without a word (a restart): connect again. Had this
        // person's access ended, its last event said so (access.ended), or the reconnect is
        // refused (below).
      } catch (error) {
        if (this.stopped) return;
        if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
          this.stopped = true; // no right to this stream any more: retrying cannot help
          accessEnded(reasonOf(error.status, error.headers), token.get());
          return;
        }
      }
      this.root.dataset.stream = "reconnecting";
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }

  async read(reader) {
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (!data) continue;
        let event;
        try {
          event = JSON.parse(data);
        } catch {
          continue; // not an event of this stream (a proxy's words): nothing to apply
        }
        await this.apply(event);
      }
    }
  }

  async apply(event) {
    if (event.type === "presence") {
      this.presence?.update(event.data?.people); // no id: no part of the stream's history
      return;
    }
    if (event.type === "access.ended") {
      this.stopped = true; // the server ended the stream: the token lost its right to it
      accessEnded(event.data?.reason, token.get());
      return;
    }
    if (!event.id) return; // another message about the stream itself: no part of its history
    if (event.type === "reset") {
      this.lastEventId = null;
      await this.load();
      this.lastEventId = event.id;
      return;
    }
    this.lastEventId = event.id;
    const data = event.data;
    if (event.type === "entry.deleted") {
      this.entries.delete(data.id);
    } else if (event.type === "entry.created" || event.type === "entry.updated") {
      const known = this.entries.get(data.id);
      if (known && known.version >= data.version) return;
      const alert = this.alertFor(known, data);
      if (data.status === "published") {
        this.entries.delete(data.id);
        this.onPublished(data);
      } else {
        this.entries.set(data.id, data);
      }
      if (alert) this.onAlert(alert, data);
    }
    this.render();
  }

  /** What this person should hear of a change the stream brought, or null. Changes made from
   * this console reach it first as answers (upsert), so their events are not news here. */
  alertFor(known, entry) {
    const mine = entry.created_by === this.me.id;
    if (this.contributor) {
      if (!mine) return null;
      if (entry.status === "published") return "published";
      if (known?.status === "submitted" && entry.status === "draft" && entry.note) return "sent-back";
      return null;
    }
    if (entry.status === "submitted" && known?.status !== "submitted" && !mine) return "contribution";
    if (entry.status === "published" && known?.status === "scheduled") return "scheduled";
    return null;
  }

  /** An entry this console wrote (the answer to its own request). */
  upsert(entry) {
    const known = this.entries.get(entry.id);
    if (known && known.version >= entry.version) return;
    if (entry.status === "published") this.entries.delete(entry.id);
    else this.entries.set(entry.id, entry);
    this.render();
  }

  // --- drawing -------------------------------------------------------------------------

  render() {
    const mine = [...this.entries.values()].filter((e) => this.visible(e));
    this.onWaiting(mine.filter((e) => e.status === "submitted").length);
    for (const tab of TABS) {
      const count = mine.filter((e) => e.status === tab).length;
      const badge = this.root.querySelector(`[data-count="${tab}"]`);
      badge.textContent = String(count);
      badge.classList.toggle("nr-count--warn", tab === "submitted" && count > 0);
      const button = this.root.querySelector(`[data-tab="${tab}"]`);
      button.setAttribute("aria-selected", String(tab === this.tab));
    }
    const shown = mine
      .filter((e) => e.status === this.tab)
      .sort((a, b) => (this.tab === "scheduled" ? a.published_at.localeCompare(b.published_at) : b.published_at.localeCompare(a.published_at)));
    const cards = shown.map((entry) => {
      const session = this.sessions.get(entry.id);
      if (session) placeMark(session.card, this.presence?.editorsOf(entry.id) || []);
      return session?.card || this.card(entry);
    });
    syncChildren(this.list, cards);
    this.empty.textContent = shown.length ? "" : this.contributor && this.tab === "submitted" ? t("Nothing of yours awaits approval.") : EMPTY[this.tab]();
    this.empty.hidden = shown.length > 0;
  }

  /** Who else edits which entry, on the cards as they are (none drawn again). */
  remark() {
    for (const card of this.list.children) placeMark(card, this.presence?.editorsOf(card.dataset.id) || []);
  }

  card(entry) {
    const view = renderEntry(entry);
    view.removeAttribute("id");
    const mayAct = !this.contributor || entry.created_by === this.me.id;
    const button = (action, text, extra = "") => el("button", { type: "button", className: `nr-btn nr-btn--small ${extra}`, dataset: { wf: action, id: entry.id } }, text);
    const actions = [];
    if (!this.contributor) {
      actions.push(button("publish", entry.status === "submitted" ? t("Approve and publish") : t("Publish now"), "nr-btn--primary"));
      if (entry.status === "submitted") actions.push(button("sendback", t("Send back")));
    }
    if (mayAct) actions.push(button("edit", t("Edit"), "nr-btn--ghost"));
    if (mayAct) actions.push(button("history", t("History"), "nr-btn--ghost"));
    if (mayAct) actions.push(button("delete", this.contributor ? t("Withdraw") : t("Delete"), "nr-btn--ghost nr-btn--danger-text"));
    const when =
      entry.status === "scheduled"
        ? el("span", { className: "nr-wf__countdown", dataset: { role: "countdown", at: entry.publish_at } }, t("Publishes %(when)s", { when: countdown(entry.publish_at) }))
        : null;
    return el(
      "article",
      { className: `nr-wf nr-wf--${entry.status}`, dataset: { id: entry.id, status: entry.status } },
      editingMark(this.presence?.editorsOf(entry.id) || []),
      el(
        "div",
        { className: "nr-wf__bar" },
        el("span", { className: `nr-badge nr-badge--${entry.status}` }, STATUS_TEXT[entry.status]?.() || entry.status),
        when,
        el("span", { className: "nr-form__spacer" }),
        ...actions,
      ),
      entry.note ? el("p", { className: "nr-wf__note", dataset: { role: "note" } }, t("Note from the desk: %(note)s", { note: entry.note })) : null,
      el("div", { className: "nr-entry__view", ...contentAttributes() }, view),
    );
  }

  tick() {
    for (const node of this.list.querySelectorAll("[data-role=countdown]")) {
      node.textContent = t("Publishes %(when)s", { when: countdown(node.dataset.at) });
    }
  }

  // --- actions -------------------------------------------------------------------------

  async click(event) {
    const tab = event.target.closest("[data-tab]");
    if (tab) {
      this.tab = tab.dataset.tab;
      this.render();
      return;
    }
    const button = event.target.closest("button[data-wf]");
    if (!button) return;
    const entry = this.entries.get(button.dataset.id);
    if (!entry) return;
    const action = button.dataset.wf;
    try {
      if (action === "publish") await this.patch(entry, { status: "published" }, t("Published."));
      else if (action === "sendback") {
        const note = await askNote();
        if (note) await this.patch(entry, { status: "draft", note }, t("Sent back with your note."));
      } else if (action === "edit") this.edit(entry, button.closest("article"));
      else if (action === "history") openHistory({ slug: this.slug, entryId: entry.id, onRestored: (e) => this.upsert(e) });
      else if (action === "delete") {
        const confirmed = await confirmDialog({
          title: this.contributor ? t("Withdraw this entry?") : t("Delete this entry?"),
          message: t("It was never published; it is deleted for everyone."),
          confirm: this.contributor ? t("Withdraw") : t("Delete"),
          danger: true,
        });
        if (!confirmed) return;
        await api("DELETE", entryPath(this.slug, entry.id));
        this.entries.delete(entry.id);
        this.render();
      }
    } catch (error) {
      toast(t("Not done: %(reason)s", { reason: error.messages ? error.messages.join(" ") : error.message }), { kind: "error" });
    }
  }

  async patch(entry, body, done) {
    const { data } = await api("PATCH", entryPath(this.slug, entry.id), { body, headers: { "If-Match": `"${entry.version}"` } });
    this.upsert(data);
    if (data.status === "published") this.onPublished(data);
    toast(done);
  }

  edit(entry, card) {
    const session = new EditSession({
      slug: this.slug,
      entry,
      card,
      template: this.formTemplate,
      presence: this.presence,
      onDone: (saved) => {
        this.sessions.delete(entry.id);
        if (saved) this.upsert(saved);
        this.render();
      },
    });
    session.form.setRole(this.me.role);
    session.form.setEditing(entry);
    this.sessions.set(entry.id, session);
    session.open();
  }
}

/** The send-back note, from the page's <dialog id="sendback-dialog">. */
function askNote() {
  const dialog = document.getElementById("sendback-dialog");
  const field = dialog.querySelector("[name=note]");
  field.value = "";
  dialog.showModal();
  field.focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm" ? field.value.trim() : ""), { once: true });
  });
}
