// The newsroom panel: what readers do not see yet. The contributions queue (with its count),
// drafts and scheduled entries of one blog, kept live over the blog's newsroom stream
// (GET /api/blogs/{slug}/newsroom/events, read with fetch so the token goes in a header; the
// public streams never carry any of this). Editors publish, send back, edit and delete;
// contributors follow their own entries and edit or withdraw them until they are published.

import { renderEntry } from "../reader/render.js";
import { accessEnded, reasonOf } from "./access.js";
import { ApiError, api, blogPath, entryPath, token } from "./api.js";
import { EditSession } from "./edit.js";
import { openHistory } from "./history.js";
import { confirmDialog, el, toast } from "./ui.js";

const TABS = ["submitted", "draft", "scheduled"];
const STATUS_TEXT = { submitted: "Awaiting approval", draft: "Draft", scheduled: "Scheduled" };
const EMPTY = {
  submitted: "No contributions wait for approval.",
  draft: "No drafts. Choose “Save as draft” under the composer to keep one here.",
  scheduled: "Nothing scheduled. Choose “Schedule” under the composer.",
};
const RETRY_MS = 2000;

/** "in 4:05", "in 1 h 12 min", "now" */
export function countdown(iso, now = Date.now()) {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  if (seconds <= 0) return "publishing now…";
  if (seconds < 3600) return `in ${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  const hours = Math.floor(seconds / 3600);
  if (hours < 48) return `in ${hours} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `in ${Math.floor(hours / 24)} days`;
}

export class Workflow {
  constructor({ slug, me, root, formTemplate, onPublished }) {
    this.slug = slug;
    this.me = me;
    this.root = root;
    this.list = root.querySelector("#workflow-list");
    this.empty = root.querySelector("#workflow-empty");
    this.formTemplate = formTemplate;
    this.onPublished = onPublished || (() => {});
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
    this.root.querySelector("#workflow-hint").textContent = this.contributor
      ? "Your contributions: an editor approves them before readers see them."
      : "Readers see none of these until they are published.";
    await this.load();
    this.stream();
  }

  stop() {
    this.stopped = true;
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
        if (!response.ok) throw new ApiError(response.status, null, response.headers);
        this.root.dataset.stream = "live";
        await this.read(response.body.getReader());
        if (this.stopped) return;
      } catch (error) {
        if (this.stopped) return;
        if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
          this.stopped = true; // no right to this stream any more: retrying cannot help
          accessEnded(reasonOf(error.status, error.headers));
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
        if (data) await this.apply(JSON.parse(data));
      }
    }
  }

  async apply(event) {
    if (event.type === "access.ended") {
      this.stopped = true; // the server ended the stream: the token lost its right to it
      accessEnded(event.data?.reason);
      return;
    }
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
      if (data.status === "published") {
        const mine = data.created_by === this.me.id && this.contributor;
        this.entries.delete(data.id);
        if (mine) toast(`Published: “${data.headline || "your entry"}” is on the blog.`);
        this.onPublished(data);
      } else {
        if (this.contributor && known?.status === "submitted" && data.status === "draft" && data.note) {
          toast(`Sent back by an editor: ${data.note}`, { kind: "error" });
        }
        this.entries.set(data.id, data);
      }
    }
    this.render();
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
    const cards = shown.map((entry) => this.sessions.get(entry.id)?.card || this.card(entry));
    this.list.replaceChildren(...cards);
    this.empty.textContent = shown.length ? "" : this.contributor && this.tab === "submitted" ? "Nothing of yours awaits approval." : EMPTY[this.tab];
    this.empty.hidden = shown.length > 0;
  }

  card(entry) {
    const view = renderEntry(entry);
    view.removeAttribute("id");
    const mayAct = !this.contributor || entry.created_by === this.me.id;
    const button = (action, text, extra = "") => el("button", { type: "button", className: `nr-btn nr-btn--small ${extra}`, dataset: { wf: action, id: entry.id } }, text);
    const actions = [];
    if (!this.contributor) {
      actions.push(button("publish", entry.status === "submitted" ? "Approve and publish" : "Publish now", "nr-btn--primary"));
      if (entry.status === "submitted") actions.push(button("sendback", "Send back"));
    }
    if (mayAct) actions.push(button("edit", "Edit", "nr-btn--ghost"));
    if (mayAct) actions.push(button("history", "History", "nr-btn--ghost"));
    if (mayAct) actions.push(button("delete", this.contributor ? "Withdraw" : "Delete", "nr-btn--ghost nr-btn--danger-text"));
    const when =
      entry.status === "scheduled"
        ? el("span", { className: "nr-wf__countdown", dataset: { role: "countdown", at: entry.publish_at } }, `Publishes ${countdown(entry.publish_at)}`)
        : null;
    return el(
      "article",
      { className: `nr-wf nr-wf--${entry.status}`, dataset: { id: entry.id, status: entry.status } },
      el(
        "div",
        { className: "nr-wf__bar" },
        el("span", { className: `nr-badge nr-badge--${entry.status}` }, STATUS_TEXT[entry.status] || entry.status),
        when,
        el("span", { className: "nr-form__spacer" }),
        ...actions,
      ),
      entry.note ? el("p", { className: "nr-wf__note", dataset: { role: "note" } }, `Note from the desk: ${entry.note}`) : null,
      el("div", { className: "nr-entry__view" }, view),
    );
  }

  tick() {
    for (const node of this.list.querySelectorAll("[data-role=countdown]")) {
      node.textContent = `Publishes ${countdown(node.dataset.at)}`;
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
      if (action === "publish") await this.patch(entry, { status: "published" }, "Published.");
      else if (action === "sendback") {
        const note = await askNote();
        if (note) await this.patch(entry, { status: "draft", note }, "Sent back with your note.");
      } else if (action === "edit") this.edit(entry, button.closest("article"));
      else if (action === "history") openHistory({ slug: this.slug, entryId: entry.id, onRestored: (e) => this.upsert(e) });
      else if (action === "delete") {
        const confirmed = await confirmDialog({
          title: this.contributor ? "Withdraw this entry?" : "Delete this entry?",
          message: "It was never published; it is deleted for everyone.",
          confirm: this.contributor ? "Withdraw" : "Delete",
          danger: true,
        });
        if (!confirmed) return;
        await api("DELETE", entryPath(this.slug, entry.id));
        this.entries.delete(entry.id);
        this.render();
      }
    } catch (error) {
      toast(`Not done: ${error.messages ? error.messages.join(" ") : error.message}`, { kind: "error" });
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
