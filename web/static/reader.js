// The reader's page, kept live: applies each event of the blog's stream to the rendered page.
// Loaded as a module (deferred); the page is complete without it.

import { localizeTimes, refreshRelativeTimes } from "./reader/clocks.js";
import { reportHeight } from "./reader/frame.js";
import { t, tn } from "./reader/i18n.js";
import { entryTitle, renderEntry, renderKeyEvent } from "./reader/render.js";
import { enableEmbeds, onEmbedClick } from "./reader/media.js";
import { enableShare } from "./reader/share.js";
import { LiveStream } from "./reader/stream.js";
import { clock, dayKey, dayName, longDate, micros, orderKey } from "./reader/times.js";
import { lastSeen, remember } from "./reader/visits.js";
import { zoneSwitch } from "./reader/zone.js";

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
const newUpdates = (count) => tn("new_updates", ["%(count)s new update", "%(count)s new updates"], count);
const newerUpdates = (count) =>
  tn("newer_updates", ["Show %(count)s newer update", "Show %(count)s newer updates"], count);
const sinceLastVisit = (count) =>
  tn("since_last_visit", ["%(count)s update since your last visit", "%(count)s updates since your last visit"], count);
const ENTRY_HASH = /^#entry-([0-9a-z]{16})$/;
const CATCH_UP_PAGES = 5; // of 100: "since your last visit" counts up to 500 itself
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

const $ = (id) => document.getElementById(id);
const keyOf = (node) => orderKey(node.dataset.published, node.dataset.id);
const isEntry = (node) => node?.classList.contains("entry");
/** The entries of a list, without the day headings between them. */
const entriesOf = (list) => [...list.children].filter(isEntry);
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
    this.blogTitle = root.dataset.title;
    this.baseTitle = document.title;
    this.pending = new Map(); // entries that arrived while the reader was scrolled down
    // Ids seen deleted: a delete is final, so an older page or a refetch that was in flight
    // when the delete came must not bring the entry back.
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
    this.unseenKey = null; // entries newer than this are marked new (set by catchUp)
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
    zoneSwitch($("lb-zone"), () => this.redrawTimes());
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
    if (this.mode === "embed") reportHeight();
    if (this.mode !== "archive" && this.root.dataset.status !== "ended") this.stream.start();
    enableShare(this.root, (text) => this.announce(text));
    this.root.addEventListener("click", (event) => {
      const gap = event.target.closest(".timeline-gap__button");
      if (gap) this.fillGap(gap.parentElement);
    });
    window.addEventListener("hashchange", () => this.land());
    this.land().finally(() => this.catchUp());
  }

  // --- events ------------------------------------------------------------------------------

  apply(event) {
    const { type, data } = event;
    this.keepScroll(() => {
      if (type === "entry.created") this.created(data);
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
    const before = entriesOf(this.timeline).find((child) => keyOf(child) < key);
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

  /** `reset`: the stream cannot fill a gap, so the timeline is read again from the API. */
  async reload(attempt = 0) {
    this.stream.stop();
    this.setState("reconnecting");
    try {
      if (this.keyOnly) {
        await this.reloadKeyEvents();
        return;
      }
      const page = await this.fetchJSON(`${this.api}?limit=${PAGE_SIZE}`);
      await this.revalidateOutside(page.entries);
      this.pending.clear();
      this.showPendingCount();
      this.timeline.replaceChildren();
      this.next = page.next;
      for (const entry of page.entries) this.place(entry, { highlight: false, older: true });
      this.afterChange();
      this.stream.lastEventId = page.last_event_id;
      this.stream.attempt = 0;
      if (this.root.dataset.status !== "ended") this.stream.start();
    } catch {
      const delay = Math.min(30_000, 1000 * 2 ** attempt) * (0.5 + Math.random() / 2);
      setTimeout(() => this.reload(attempt + 1), delay);
    }
  }

  /**
   * `reset` in the key events view: every key event, however old, comes from the server's
   * rendering of this view (the API pages through all entries), read as an inert document.
   */
  async reloadKeyEvents() {
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
    if (!response.ok) throw new Error(`${window.location.href}: ${response.status}`);
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = doc.getElementById("liveblog");
    const timeline = doc.getElementById("timeline");
    if (!fresh || !timeline) throw new Error("no timeline in the reloaded page");
    this.pending.clear();
    this.showPendingCount();
    this.timeline.replaceChildren(...[...timeline.children].map((n) => document.importNode(n, true)));
    for (const id of this.deleted) this.findEntry(id)?.remove();
    enableEmbeds(this.timeline);
    localizeTimes(this.timeline);
    refreshRelativeTimes(this.timeline);
    this.afterChange();
    this.stream.lastEventId = fresh.dataset.lastEventId;
    this.stream.attempt = 0;
    if (this.root.dataset.status !== "ended") this.stream.start();
  }

  /** Pinned entries and key events not on the reloaded page: still there, still the same? */
  async revalidateOutside(entries) {
    const onPage = new Set(entries.map((entry) => entry.id));
    const ids = new Set();
    for (const node of this.pinned?.children ?? []) ids.add(node.dataset.id);
    for (const node of this.keyList?.children ?? []) ids.add(node.dataset.id);
    for (const id of ids) {
      if (onPage.has(id)) continue;
      const response = await fetch(`${this.api}/${encodeURIComponent(id)}`);
      if (response.status === 404) this.removeEntry(id);
      else if (response.ok) this.place(await response.json(), { highlight: false });
      else throw new Error(`entry ${id}: ${response.status}`);
    }
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
      const before = entriesOf(list).find((child) => keyOf(child) < key);
      if (before) list.insertBefore(node, before);
      else if (entry.pinned || older || this.next === null) list.append(node);
      else placed = false;
    }
    if (placed) {
      enableEmbeds(node);
      refreshRelativeTimes(node);
      if (highlight) this.highlight(node);
      if (this.unseenKey && key > this.unseenKey) this.markUnseen(node);
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
    return (!previous || keyOf(previous) > key) && (!next || keyOf(next) < key);
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
      const url = `${this.api}?limit=${PAGE_SIZE}&before=${encodeURIComponent(this.next)}`;
      const page = await this.fetchJSON(url);
      for (const entry of page.entries) {
        // Entries already on the page (live inserts, pinned) are never shown twice.
        if (!this.findEntry(entry.id) && !this.pending.has(entry.id)) {
          this.place(entry, { highlight: false, older: true });
        }
      }
      this.next = page.next;
      this.loadOlder.textContent = t("Load older updates");
      return true;
    } catch {
      this.loadOlder.textContent = t("Could not load older updates. Try again");
      return false;
    } finally {
      this.loading = false;
      this.loadOlder.removeAttribute("aria-busy");
      this.loadOlder.hidden = !this.next;
      if (this.next) this.loadOlder.href = `?before=${encodeURIComponent(this.next)}`;
    }
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

  // --- deep links: #entry-<id> of any entry, however old -------------------------------------

  /** The entry the URL names (`#entry-<id>`), shown on load and whenever the hash changes. */
  async land() {
    const id = ENTRY_HASH.exec(window.location.hash)?.[1];
    if (!id || this.mode === "embed") return;
    await this.showEntry(id, { smooth: false });
  }

  /**
   * One entry, scrolled into view, marked and focused. Not on the page (the live timeline
   * holds the newest few): the API's page that starts with it is added below the newest, after
   * a gap whose button loads the entries in between, a page at a time, from the entry up.
   * Returns whether it is shown.
   */
  async showEntry(id, { smooth }) {
    let target = this.findEntry(id);
    if (!target && this.remembers()) {
      try {
        target = await this.loadAround(id);
      } catch {
        this.notice(t("Could not load this update. Try again"));
        return false;
      }
      if (!target) this.notice(t("This update is no longer available."));
    }
    if (!target) return false;
    for (const node of this.root.querySelectorAll(".entry--target")) node.classList.remove("entry--target");
    target.classList.add("entry--target");
    // With a gap right above it, the gap's button shows too: the newer entries, one tap away.
    const top = this.gapAbove(target) ?? target;
    top.scrollIntoView({ block: "start", behavior: smooth && !reducedMotion.matches ? "smooth" : "auto" });
    target.focus({ preventScroll: true });
    if (!smooth) this.holdInView(target);
    return true;
  }

  /** The gap right above an entry (day headings aside), if there is one. */
  gapAbove(node) {
    let above = node.previousElementSibling;
    while (above && !isEntry(above)) {
      if (above.classList.contains("timeline-gap")) return above;
      above = above.previousElementSibling;
    }
    return null;
  }

  /** The API's page that starts with an entry, placed below the entries shown; null if the
   * entry is gone. */
  async loadAround(id) {
    const url = `${this.api}?around=${encodeURIComponent(id)}&limit=${PAGE_SIZE}`;
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (response.status === 404) return null;
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    const page = await response.json();
    this.keepScroll(() => {
      for (const entry of page.entries) {
        if (!this.findEntry(entry.id) && !this.pending.has(entry.id)) {
          this.place(entry, { highlight: false, older: true });
        }
      }
      // "Load older" goes on below the entry's page now.
      this.next = page.next;
      this.loadOlder.hidden = !this.next;
      if (this.next) this.loadOlder.href = `?before=${encodeURIComponent(this.next)}`;
      this.updateGap(null, page);
    });
    return this.findEntry(id);
  }

  /**
   * The gap above a page from the middle of the timeline (`page`: an `around` or `after`
   * answer, newest first): there while some of the `newer_count` entries above it are not on
   * the page, its button saying how many.
   */
  updateGap(gap, page) {
    const first = page.entries[0];
    const key = first ? orderKey(first.published_at, first.id) : null;
    const shown = key ? this.shownEntries().filter((node) => keyOf(node) > key).length : 0;
    const missing = page.newer === null || !key ? 0 : page.newer_count - shown;
    if (missing <= 0) {
      gap?.remove();
      return;
    }
    if (!gap) {
      gap = document.createElement("div");
      gap.className = "timeline-gap";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "timeline-gap__button";
      gap.append(button);
      const below = entriesOf(this.timeline).find((node) => keyOf(node) <= key);
      this.timeline.insertBefore(gap, below ?? null);
    }
    gap.dataset.after = page.newer;
    gap.firstElementChild.textContent = newerUpdates(missing);
  }

  /** The gap's button: the entries just above the ones below it, the gap staying in place. */
  async fillGap(gap) {
    if (gap.dataset.busy) return;
    gap.dataset.busy = "1";
    const button = gap.firstElementChild;
    const label = button.textContent;
    button.textContent = t("Loading…");
    try {
      const url = `${this.api}?after=${encodeURIComponent(gap.dataset.after)}&limit=${PAGE_SIZE}`;
      const page = await this.fetchJSON(url);
      this.keepPlace(gap, () => {
        for (const entry of page.entries) {
          if (!this.findEntry(entry.id) && !this.pending.has(entry.id)) {
            this.place(entry, { highlight: false, older: true });
          }
        }
        this.updateGap(gap, page);
      });
      this.announce(newUpdates(page.entries.length));
    } catch {
      button.textContent = label;
      this.announce(t("Could not load older updates. Try again"));
    } finally {
      delete gap.dataset.busy;
    }
  }

  /** Run a change with `anchor` kept where it is on the screen. */
  keepPlace(anchor, change) {
    const top = anchor.getBoundingClientRect().top;
    change();
    if (!anchor.isConnected) return;
    const moved = anchor.getBoundingClientRect().top - top;
    if (Math.abs(moved) >= 1) window.scrollBy(0, moved);
  }

  /**
   * After landing on an entry: photos above it that load late (no size known to reserve) must
   * not push it away. It is held where it is until the reader scrolls themselves.
   */
  holdInView(target) {
    const top = target.getBoundingClientRect().top;
    const hold = new ResizeObserver(() => {
      if (!target.isConnected) return release();
      const moved = target.getBoundingClientRect().top - top;
      if (Math.abs(moved) >= 1) window.scrollBy(0, moved);
    });
    const events = ["wheel", "touchstart", "keydown", "pointerdown"];
    const release = () => {
      hold.disconnect();
      for (const type of events) window.removeEventListener(type, release, true);
    };
    for (const type of events) window.addEventListener(type, release, { capture: true, passive: true });
    hold.observe(document.body);
    setTimeout(release, 15_000);
  }

  /** A short note above the timeline (a link to an entry that is gone), said aloud. */
  notice(text) {
    let note = $("lb-notice");
    if (!note) {
      note = document.createElement("p");
      note.id = "lb-notice";
      note.className = "lb-notice";
      this.keepScroll(() => (this.pinned ?? this.timeline).before(note));
    }
    note.textContent = text;
    this.announce(text);
  }

  // --- since your last visit -----------------------------------------------------------------

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
      if (isEntry(node) && (!newest || keyOf(node) > keyOf(newest))) newest = node;
    }
    if (newest) remember(this.slug, newest.dataset.id, keyOf(newest));
  }

  /**
   * A reader back on the page: what arrived since the newest entry they were shown last time
   * is marked, counted ("3 updates since your last visit") and one tap away. Nothing of what
   * this browser remembers goes to the server: when more arrived than the page holds, the
   * count comes from reading on down the timeline (what "Load older" asks for), at most
   * CATCH_UP_PAGES pages.
   */
  async catchUp() {
    const seen = this.seen;
    if (!seen) return;
    const unseen = this.shownEntries().filter((node) => keyOf(node) > seen.key);
    if (!unseen.length) return;
    this.unseenKey = seen.key;
    for (const node of unseen) this.markUnseen(node);
    let count = unseen.length;
    let first = unseen.reduce((a, b) => (keyOf(a) < keyOf(b) ? a : b)).dataset.id;
    const pages = [];
    let more = false;
    const oldest = entriesOf(this.timeline).at(-1);
    if (this.next && oldest && keyOf(oldest) > seen.key) {
      let cursor = this.next;
      try {
        while (cursor) {
          if (pages.length === CATCH_UP_PAGES) {
            more = true;
            break;
          }
          const page = await this.fetchJSON(`${this.api}?limit=100&before=${encodeURIComponent(cursor)}`);
          pages.push(page);
          const isNew = (e) => orderKey(e.published_at, e.id) > seen.key;
          const newer = page.entries.filter((e) => isNew(e) && !this.findEntry(e.id));
          count += newer.length;
          if (newer.length) first = newer[newer.length - 1].id;
          if (!page.entries.every(isNew)) break; // down to what they saw
          cursor = page.next;
        }
      } catch {
        // count what is known
      }
    }
    const message = more ? t("More than %(count)s updates since your last visit", { count }) : sinceLastVisit(count);
    this.showCatchUp(message, async () => {
      // The entries read for the count go on the page, down to the first new one.
      this.keepScroll(() => {
        for (const page of pages) {
          for (const entry of page.entries) {
            if (!this.findEntry(entry.id) && !this.pending.has(entry.id)) this.place(entry, { highlight: false, older: true });
          }
          this.next = page.next;
        }
        this.loadOlder.hidden = !this.next;
        if (this.next) this.loadOlder.href = `?before=${encodeURIComponent(this.next)}`;
      });
      pages.length = 0;
      history.replaceState(null, "", `#entry-${first}`);
      return this.showEntry(first, { smooth: true });
    });
  }

  markUnseen(node) {
    if (node.classList.contains("entry--unseen")) return;
    node.classList.add("entry--unseen");
    const badge = document.createElement("span");
    badge.className = "entry__unseen";
    badge.textContent = t("New");
    node.querySelector(".entry__time")?.append(badge);
  }

  showCatchUp(message, jumpToFirst) {
    const box = document.createElement("div");
    box.className = "catch-up";
    box.id = "catch-up";
    const text = document.createElement("p");
    text.className = "catch-up__text";
    text.textContent = message;
    const jump = document.createElement("button");
    jump.type = "button";
    jump.className = "catch-up__jump";
    jump.textContent = t("Jump to the first");
    const close = document.createElement("button");
    close.type = "button";
    close.className = "catch-up__close";
    close.setAttribute("aria-label", t("Dismiss"));
    close.textContent = "×";
    box.append(text, jump, close);
    jump.addEventListener("click", async () => {
      if (await jumpToFirst()) box.remove();
    });
    close.addEventListener("click", () => box.remove());
    this.keepScroll(() => (this.pinned ?? this.timeline).before(box));
    this.announce(message);
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
