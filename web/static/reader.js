// The reader's page, kept live: applies each event of the blog's stream to the rendered page.
// Loaded as a module (deferred); the page is complete without it.
//
// What a first view needs is imported here (the page preloads it all at once); what only some
// readers use is imported when they do (import() below, never preloaded): sharing, the zone
// switch, the embed's frame, deep links, "since your last visit".

import { t, tn } from "./reader/i18n.js";
import { entriesOf, entryKey, entryTitle, isEntry, renderEntry, renderKeyEvent } from "./reader/render.js";
import { enableEmbeds, onEmbedClick } from "./reader/media.js";
import { LiveStream } from "./reader/stream.js";
import {
  clock,
  dayKey,
  dayName,
  localizeTimes,
  longDate,
  micros,
  orderKey,
  ownZoneDiffers,
  refreshRelativeTimes,
} from "./reader/times.js";

const PAGE_SIZE = 20;
const HIGHLIGHT_MS = 2500;
const KEY_EVENTS_SHOWN = 5; // the key events box shows this many until "Show all"
const STATE_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline",
  ended: "Ended",
};
const newUpdates = (count) => tn("new_updates", count);
const ENTRY_HASH = /^#entry-([0-9a-z]{16})$/;
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

const $ = (id) => document.getElementById(id);
/** A module loaded on demand; `use` it, or do without it when it cannot be had (offline). */
const later = (load, use, without = () => {}) => load().then(use, without);
/** A plain click on a Share link (not one that opens it elsewhere): the link, else null. */
function shareClick(event) {
  const link = event.target.closest("a.entry__share");
  if (!link || event.defaultPrevented || event.button !== 0) return null;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return null; // a new tab
  return link;
}
// What this browser last saw of a blog: the newest entry the page showed ({id, key}, key: the
// timeline's order key), kept in localStorage only (no cookie, nothing sent to the server), so
// a later visit can say what arrived since (reader/catch-up.js). Storage a browser refuses (a
// sandboxed frame, a private mode) means no memory.
const seenKey = (slug) => `liveblog:seen:${slug}`;

function lastSeen(slug) {
  try {
    const seen = JSON.parse(window.localStorage.getItem(seenKey(slug)) || "null");
    return seen && typeof seen.id === "string" && typeof seen.key === "string" ? seen : null;
  } catch {
    return null;
  }
}

/** Remember `key` as the newest shown, unless a newer one is remembered already. */
function remember(slug, id, key) {
  try {
    const seen = lastSeen(slug);
    if (seen && seen.key >= key) return;
    window.localStorage.setItem(seenKey(slug), JSON.stringify({ id, key }));
  } catch {
    // storage refused or full: nothing remembered
  }
}

/** The entry before or after `node` in its list, skipping day headings. */
function neighbour(node, direction) {
  let next = node[direction];
  while (next && !isEntry(next)) next = next[direction];
  return next;
}

class LiveBlog {
  constructor(root) {
    this.root = root;
    this.mode = root.dataset.mode; // "page" | "embed" | "archive"
    this.keyOnly = root.dataset.view === "key"; // ?view=key: the timeline is the key events
    this.api = root.dataset.api;
    this.next = root.dataset.next || null; // cursor of the next older page, null at the end
    this.maxEntries = Number(root.dataset.maxEntries) || 0; // embed: keep only the newest
    this.pageSize = PAGE_SIZE; // entries asked of the API at a time
    this.blogTitle = root.dataset.title;
    this.baseTitle = document.title;
    this.pending = new Map(); // entries that arrived while the reader was scrolled down
    // Ids seen deleted: an older page or a refetch that was in flight when the delete came
    // must not bring the entry back. Only a later entry.created does (restored by an editor).
    this.deleted = new Set();
    this.timeline = $("timeline");
    this.pinned = $("pinned");
    this.keyBox = $("key-events");
    this.keyList = $("key-events-list");
    this.keyMore = $("key-events-more");
    this.newButton = $("new-updates");
    this.loadOlder = $("load-older");
    this.announcer = $("announcer");
    this.status = $("live-status");
    this.slug = root.dataset.slug;
    // What this browser showed on its last visit, read before this visit remembers anything.
    this.seen = this.remembers() ? lastSeen(this.slug) : null;
    // {key, mark}: entries newer than key are marked new as they are placed (set by catch-up).
    this.unseen = null;
    this.stream = new LiveStream(
      root.dataset.events,
      root.dataset.lastEventId,
      (event) => this.apply(event),
      (state) => this.setState(state),
    );
  }

  start() {
    // The server wrote the times in the blog's zone; drawn again here, in the zone chosen.
    localizeTimes(document);
    // A reader abroad gets the zone switch, which may move the header (a line of its own on a
    // phone): the page goes live once it is drawn as it stays (below).
    const drawn = ownZoneDiffers()
      ? later(() => import("./reader/zone.js"), ({ zoneSwitch }) => zoneSwitch($("lb-zone"), () => this.redrawTimes()))
      : Promise.resolve();
    refreshRelativeTimes();
    setInterval(refreshRelativeTimes, 60_000);
    this.newButton?.addEventListener("click", () => this.reveal({ scroll: true }));
    this.loadOlder?.addEventListener("click", (event) => {
      event.preventDefault();
      this.loadOlderPage();
    });
    this.keyList?.addEventListener("click", (event) => this.followKeyEvent(event));
    this.keyMore?.addEventListener("click", () => this.showAllKeyEvents());
    this.keyBox?.classList.add("key-events--collapsible");
    this.drawDays();
    this.afterChange();
    enableEmbeds(document);
    this.root.addEventListener("click", onEmbedClick);
    window.addEventListener("scroll", () => this.onScroll(), { passive: true });
    if (this.mode === "embed") later(() => import("./reader/frame.js"), ({ reportHeight }) => reportHeight());
    if (this.mode !== "archive" && this.root.dataset.status !== "ended") {
      drawn.then(() => this.root.dataset.status !== "ended" && this.stream.start());
    }
    // Sharing (reader/share.js) comes with the first Share used; later ones run in the click
    // itself, as a share sheet likes (it wants the reader's gesture).
    let sharing = null;
    this.root.addEventListener("click", (event) => {
      const link = shareClick(event);
      if (!link) return;
      event.preventDefault();
      const announce = (text) => this.announce(text);
      if (sharing) {
        sharing.share(link, announce);
        return;
      }
      // Not to be had (offline): the link's own page, as without JavaScript.
      const follow = () => window.location.assign(link.href);
      later(() => import("./reader/share.js"), (module) => (sharing = module).share(link, announce), follow);
    });
    this.root.addEventListener("click", (event) => {
      const gap = event.target.closest(".timeline-gap__button");
      if (gap) later(() => import("./reader/deep-links.js"), (links) => links.fillGap(this, gap.parentElement));
    });
    window.addEventListener("hashchange", () => this.land());
    this.land().finally(() => this.catchUp());
  }

  // --- events ------------------------------------------------------------------------------

  apply(event) {
    const { type, data } = event;
    this.keepScroll(() => {
      if (type === "entry.created") {
        this.deleted.delete(data.id); // events come in order: a deleted entry restored
        this.created(data);
      }
      else if (type === "entry.updated") this.updated(data);
      else if (type === "entry.deleted") this.removeEntry(data.id);
      else if (type === "blog.updated") this.blogUpdated(data);
    });
    if (type === "reset") this.reload();
  }

  /** In the key events view, only key events are timeline entries. */
  belongs(entry) {
    return !this.keyOnly || entry.labels.includes("key");
  }

  created(entry) {
    if (!this.belongs(entry)) {
      this.updateKeyEvent(entry);
    } else if (this.findEntry(entry.id)) {
      this.updated(entry); // already shown (a reload raced the event): it is an update
    } else if (this.mode === "page" && !this.atTop() && this.landsAbove(entry)) {
      // Inserting above the reader would push what they are reading down: hold it.
      this.pending.set(entry.id, entry);
      this.showPendingCount();
      this.announce(newUpdates(this.pending.size));
    } else if (this.place(entry, { highlight: true })) {
      this.announce(t("New update: %(title)s", { title: entryTitle(entry) }));
      this.bumpLastUpdate(entry.published_at);
    }
  }

  /** Whether a new entry would go above the top of the viewport (pinned ones go on top). */
  landsAbove(entry) {
    if (entry.pinned) return true;
    const key = orderKey(entry.published_at, entry.id);
    const before = entriesOf(this.timeline).find((child) => entryKey(child) < key);
    if (!before) return this.next === null && this.timeline.getBoundingClientRect().bottom < 0;
    return before.getBoundingClientRect().top < 0;
  }

  bumpLastUpdate(iso) {
    const time = $("lb-updated")?.querySelector("time");
    if (!time || (time.dateTime && micros(time.dateTime) >= micros(iso))) return;
    const date = new Date(iso);
    time.dateTime = iso;
    time.textContent = clock(date);
    time.title = longDate(date);
    $("lb-updated").hidden = false;
  }

  updated(entry) {
    if (!this.belongs(entry)) {
      // No longer a key event: it leaves the key events view (it is still in the blog).
      if (this.pending.delete(entry.id)) this.showPendingCount();
      this.findEntry(entry.id)?.remove();
      this.updateKeyEvent(entry);
      this.afterChange();
      return;
    }
    const shown = this.findEntry(entry.id);
    if (shown && Number(shown.dataset.version) > entry.version) return; // a reload was newer
    if (this.pending.has(entry.id)) {
      this.pending.set(entry.id, entry);
      return;
    }
    this.place(entry, { highlight: false });
  }

  removeEntry(id) {
    this.deleted.add(id);
    if (this.pending.delete(id)) this.showPendingCount();
    this.findEntry(id)?.remove();
    this.keyList?.querySelector(`[data-id="${CSS.escape(id)}"]`)?.remove();
    this.afterChange();
  }

  blogUpdated(blog) {
    const title = $("lb-title");
    if (title && blog.title !== this.blogTitle) {
      title.textContent = blog.title;
      this.baseTitle = this.baseTitle.replace(this.blogTitle, blog.title);
      this.blogTitle = blog.title;
      this.showPendingCount();
    }
    const description = $("lb-desc");
    if (description && this.mode !== "embed") {
      description.textContent = blog.description;
      description.hidden = !blog.description;
    }
    if (blog.status === "ended") {
      this.stream.stop();
      this.root.dataset.status = "ended";
      $("lb-ended").hidden = false;
      this.setState("ended");
      this.announce(t("This live blog has ended"));
    }
  }

  /** `reset`: the stream cannot fill a gap, so the timeline is read again (reader/reload.js,
   * loaded then: a reset is rare), until it can be, backing off. */
  async reload(attempt = 0) {
    this.stream.stop();
    this.setState("reconnecting");
    try {
      const { reload } = await import("./reader/reload.js");
      await reload(this);
    } catch {
      const delay = Math.min(30_000, 1000 * 2 ** attempt) * (0.5 + Math.random() / 2);
      setTimeout(() => this.reload(attempt + 1), delay);
    }
  }

  /** Back to live from `lastEventId`, the position the page reflects now (after a reload). */
  resume(lastEventId) {
    this.stream.lastEventId = lastEventId;
    this.stream.attempt = 0;
    if (this.root.dataset.status !== "ended") this.stream.start();
  }

  // --- placing entries ---------------------------------------------------------------------

  findEntry(id) {
    return document.getElementById(`entry-${id}`);
  }

  /**
   * Put an entry where it belongs (pinned area, or the timeline in published order), replacing
   * its old element. An entry older than everything loaded waits for "Load older" unless
   * `older` says it comes from that older page. Returns whether it is on the page.
   */
  place(entry, { highlight, older = false }) {
    if (this.deleted.has(entry.id)) return false;
    const old = this.findEntry(entry.id);
    const node = renderEntry(entry);
    // The key events view has no pinned area: every key event is in the timeline, in order.
    const list = entry.pinned && !this.keyOnly ? this.pinned : this.timeline;
    const key = orderKey(entry.published_at, entry.id);
    let placed = true;
    if (old && old.parentElement === list && this.fitsAt(old, key)) {
      old.replaceWith(node); // edited in place: the reader keeps their spot
    } else {
      old?.remove();
      const before = entriesOf(list).find((child) => entryKey(child) < key);
      if (before) list.insertBefore(node, before);
      else if (entry.pinned || older || this.next === null) list.append(node);
      else placed = false;
    }
    if (placed) {
      enableEmbeds(node);
      refreshRelativeTimes(node);
      if (highlight) this.highlight(node);
      if (this.unseen && key > this.unseen.key) this.unseen.mark(node);
      if (old?.classList.contains("entry--target")) node.classList.add("entry--target");
    }
    this.updateKeyEvent(entry);
    this.trim();
    this.afterChange();
    return placed;
  }

  /** Whether `key` still sorts between the neighbours of `node`. */
  fitsAt(node, key) {
    const previous = neighbour(node, "previousElementSibling");
    const next = neighbour(node, "nextElementSibling");
    return (!previous || entryKey(previous) > key) && (!next || entryKey(next) < key);
  }

  highlight(node) {
    if (reducedMotion.matches) return;
    node.classList.add("entry--new");
    setTimeout(() => node.classList.remove("entry--new"), HIGHLIGHT_MS);
  }

  updateKeyEvent(entry) {
    if (!this.keyList) return;
    this.keyList.querySelector(`[data-id="${CSS.escape(entry.id)}"]`)?.remove();
    if (entry.labels.includes("key")) {
      const item = renderKeyEvent(entry);
      const key = orderKey(entry.published_at, entry.id);
      const before = [...this.keyList.children].find((child) => {
        const time = child.querySelector("time");
        return orderKey(time.dateTime, child.dataset.id) < key;
      });
      this.keyList.insertBefore(item, before ?? null);
    }
  }

  showAllKeyEvents() {
    this.keyBox.classList.remove("key-events--collapsible");
    this.keyMore.setAttribute("aria-expanded", "true");
    this.keyMore.hidden = true;
    // The first one not shown before: the reader asked for these, take them there.
    this.keyList.children[KEY_EVENTS_SHOWN]?.querySelector("a")?.focus();
  }

  trim() {
    if (!this.maxEntries) return;
    const entries = entriesOf(this.timeline);
    while (entries.length > this.maxEntries) entries.pop().remove();
  }

  afterChange() {
    if (this.keyBox) {
      const count = this.keyList.children.length;
      this.keyBox.hidden = count === 0;
      // "Show all" while some are folded away (CSS shows the first few of a collapsible box).
      const folded = this.keyBox.classList.contains("key-events--collapsible");
      if (this.keyMore) {
        this.keyMore.hidden = !folded || count <= KEY_EVENTS_SHOWN;
        this.keyMore.textContent = t("Show all %(count)s key events", { count });
      }
    }
    this.drawDays();
    const empty = $("timeline-empty");
    if (empty) empty.hidden = entriesOf(this.timeline).length + this.pinned.children.length > 0;
    this.rememberNewest();
  }

  /**
   * Day headings between the entries of different days, in the reader's zone, when the
   * timeline spans days (the server drew them in the blog's zone).
   */
  drawDays() {
    for (const heading of this.timeline.querySelectorAll(":scope > .day-separator")) heading.remove();
    const entries = entriesOf(this.timeline);
    const days = entries.map((node) => dayKey(new Date(node.dataset.published)));
    if (new Set(days).size < 2) return;
    let shown = null;
    entries.forEach((node, index) => {
      if (days[index] === shown) return;
      shown = days[index];
      const heading = document.createElement("p");
      heading.className = "day-separator";
      heading.dataset.day = shown;
      const time = document.createElement("time");
      time.dateTime = shown;
      time.textContent = dayName(new Date(node.dataset.published));
      heading.append(time);
      node.before(heading);
    });
  }

  /** Every time on the page, in the zone now in use (the reader switched zones). */
  redrawTimes() {
    this.keepScroll(() => {
      localizeTimes(document);
      this.drawDays();
    });
    refreshRelativeTimes();
  }

  // --- scrolled-down readers ---------------------------------------------------------------

  /**
   * Run a change to the page without moving what the reader is looking at: when they are
   * scrolled into the updates, the first entry fully in view stays where it was. (The page
   * sets overflow-anchor: none so browsers that anchor by themselves do not do it twice.)
   */
  keepScroll(change) {
    if (this.mode !== "page" || this.atTop()) {
      change();
      return;
    }
    const entries = [...this.pinned.children, ...entriesOf(this.timeline)];
    const anchor = entries.find((node) => node.getBoundingClientRect().top >= 0);
    const top = anchor?.getBoundingClientRect().top;
    change();
    if (anchor?.isConnected) {
      const moved = anchor.getBoundingClientRect().top - top;
      if (Math.abs(moved) >= 1) window.scrollBy(0, moved);
    }
  }

  /** True when the top of the updates is not above the viewport: inserting there moves nothing. */
  atTop() {
    const first = this.pinned.children.length ? this.pinned : this.timeline;
    return first.getBoundingClientRect().top >= -1;
  }

  onScroll() {
    if (this.scrollQueued) return;
    this.scrollQueued = true;
    requestAnimationFrame(() => {
      this.scrollQueued = false;
      // Back at the top: what waited can go in now without moving anything being read.
      if (this.pending.size && this.atTop()) this.reveal({ scroll: false });
    });
  }

  showPendingCount() {
    const count = this.pending.size;
    if (this.newButton) {
      this.newButton.hidden = count === 0;
      this.newButton.textContent = newUpdates(count);
    }
    document.title = count ? `(${count}) ${this.baseTitle}` : this.baseTitle;
  }

  reveal({ scroll }) {
    const entries = [...this.pending.values()];
    this.pending.clear();
    this.showPendingCount();
    const shown = new Set();
    for (const entry of entries) {
      if (this.place(entry, { highlight: true })) {
        shown.add(entry.id);
        this.bumpLastUpdate(entry.published_at);
      }
    }
    if (!scroll) return;
    const first = this.pinned.children.length ? this.pinned : this.timeline;
    first.scrollIntoView({ block: "start", behavior: reducedMotion.matches ? "auto" : "smooth" });
    // The reader asked for these: take them (and assistive tech) to the topmost one.
    const nodes = [...this.pinned.children, ...entriesOf(this.timeline)];
    nodes.find((node) => shown.has(node.dataset.id))?.focus({ preventScroll: true });
  }

  // --- older pages -------------------------------------------------------------------------

  async loadOlderPage() {
    if (!this.next || this.loading) return false;
    this.loading = true;
    this.loadOlder.setAttribute("aria-busy", "true");
    this.loadOlder.textContent = t("Loading…");
    try {
      const url = `${this.api}?limit=${this.pageSize}&before=${encodeURIComponent(this.next)}`;
      const page = await this.fetchJSON(url);
      this.placeOlder(page.entries);
      this.next = page.next;
      this.loadOlder.textContent = t("Load older updates");
      return true;
    } catch {
      this.loadOlder.textContent = t("Could not load older updates. Try again");
      return false;
    } finally {
      this.loading = false;
      this.loadOlder.removeAttribute("aria-busy");
      this.setNext(this.next);
    }
  }

  /** Entries of an older page (or one from the middle), placed where they belong; those
   * already on the page (live inserts, pinned) or waiting above are never shown twice. */
  placeOlder(entries) {
    for (const entry of entries) {
      if (!this.findEntry(entry.id) && !this.pending.has(entry.id)) {
        this.place(entry, { highlight: false, older: true });
      }
    }
  }

  /** The cursor of the next older page ("Load older" asks for it; null: none left). */
  setNext(next) {
    this.next = next;
    if (!this.loadOlder) return; // an embed: no older pages
    this.loadOlder.hidden = !next;
    if (next) this.loadOlder.href = `?before=${encodeURIComponent(next)}`;
  }

  /** A key event, however far back: shown where it is, or loaded with the entries around it. */
  async followKeyEvent(event) {
    const link = event.target.closest("a");
    const item = event.target.closest("[data-id]");
    if (!link || !item || this.mode !== "page") return;
    const id = item.dataset.id;
    event.preventDefault();
    history.replaceState(null, "", `#entry-${id}`);
    if (!(await this.showEntry(id, { smooth: true }))) {
      window.location.assign(link.href); // the server renders the older page holding it
    }
  }

  // --- deep links: #entry-<id> of any entry, however old (reader/deep-links.js) --------------

  /** The entry the URL names (`#entry-<id>`), shown on load and whenever the hash changes. */
  async land() {
    const id = ENTRY_HASH.exec(window.location.hash)?.[1];
    if (!id || this.mode === "embed") return;
    await this.showEntry(id, { smooth: false });
  }

  /** One entry, scrolled into view, marked and focused (loaded first when it is not on the
   * page). Returns whether it is shown. */
  async showEntry(id, options) {
    let links;
    try {
      links = await import("./reader/deep-links.js");
    } catch {
      return false; // not to be had (offline): the page stays as it is
    }
    return links.showEntry(this, id, options);
  }

  // --- since your last visit (reader/catch-up.js) ----------------------------------------------

  /** Only the live timeline of all updates remembers (not older pages, the key view, frames). */
  remembers() {
    return this.mode === "page" && !this.keyOnly;
  }

  /** Entries on the page: pinned ones and the timeline's. */
  shownEntries() {
    return [...(this.pinned?.children ?? []), ...entriesOf(this.timeline)].filter(isEntry);
  }

  rememberNewest() {
    if (!this.remembers()) return;
    let newest = null;
    for (const node of [...(this.pinned?.children ?? []), entriesOf(this.timeline)[0]]) {
      if (isEntry(node) && (!newest || entryKey(node) > entryKey(newest))) newest = node;
    }
    if (newest) remember(this.slug, newest.dataset.id, entryKey(newest));
  }

  /** A reader back on the page, with something newer than what they were shown last time:
   * what arrived since is marked, counted and one tap away. */
  catchUp() {
    const seen = this.seen;
    if (!seen || !this.shownEntries().some((node) => entryKey(node) > seen.key)) return;
    later(() => import("./reader/catch-up.js"), (module) => module.catchUp(this, seen));
  }

  // --- small things ------------------------------------------------------------------------

  async fetchJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    return response.json();
  }

  setState(state) {
    if (!this.status) return;
    if (this.root.dataset.status === "ended") state = "ended";
    this.status.dataset.state = state;
    this.status.querySelector(".live-status__text").textContent = t(STATE_TEXT[state] ?? state);
  }

  announce(text) {
    if (this.announcer) this.announcer.textContent = text;
  }
}

const root = document.getElementById("liveblog");
if (root) {
  const blog = new LiveBlog(root);
  blog.start();
}
