// Deep links: `#entry-<id>` names any entry, however old. One on the page is scrolled to, marked
// and focused; one that is not (the live timeline holds the newest few) comes with the API's
// page that starts with it, placed below the entries shown, after a gap whose button loads the
// entries in between, a page at a time, from the entry up. Loaded the first time a link names
// an entry (reader.js): a first view without one does without this.

import { t, tn } from "./i18n.js";
import { entriesOf, entryKey, isEntry } from "./render.js";
import { orderKey } from "./times.js";

const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

/**
 * One entry of `blog` (reader.js's LiveBlog), scrolled into view, marked and focused, loaded
 * first if it is not on the page. Returns whether it is shown.
 */
export async function showEntry(blog, id, { smooth }) {
  let target = blog.findEntry(id);
  if (!target && blog.remembers()) {
    try {
      target = await loadAround(blog, id);
    } catch {
      notice(blog, t("Could not load this update. Try again"));
      return false;
    }
    if (!target) notice(blog, t("This update is no longer available."));
  }
  if (!target) return false;
  for (const node of blog.root.querySelectorAll(".entry--target")) node.classList.remove("entry--target");
  target.classList.add("entry--target");
  // With a gap right above it, the gap's button shows too: the newer entries, one tap away.
  const top = gapAbove(target) ?? target;
  top.scrollIntoView({ block: "start", behavior: smooth && !reducedMotion.matches ? "smooth" : "auto" });
  target.focus({ preventScroll: true });
  if (!smooth) holdInView(target);
  return true;
}

/** The gap right above an entry (day headings aside), if there is one. */
function gapAbove(node) {
  let above = node.previousElementSibling;
  while (above && !isEntry(above)) {
    if (above.classList.contains("timeline-gap")) return above;
    above = above.previousElementSibling;
  }
  return null;
}

/** The API's page that starts with an entry, placed below the entries shown; null if the
 * entry is gone. */
async function loadAround(blog, id) {
  const url = `${blog.api}?around=${encodeURIComponent(id)}&limit=${blog.pageSize}`;
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  const page = await response.json();
  blog.keepScroll(() => {
    blog.placeOlder(page.entries);
    // "Load older" goes on below the entry's page now.
    blog.setNext(page.next);
    updateGap(blog, null, page);
  });
  return blog.findEntry(id);
}

/**
 * The gap above a page from the middle of the timeline (`page`: an `around` or `after`
 * answer, newest first): there while some of the `newer_count` entries above it are not on
 * the page, its button saying how many.
 */
function updateGap(blog, gap, page) {
  const first = page.entries[0];
  const key = first ? orderKey(first.published_at, first.id) : null;
  const shown = key ? blog.shownEntries().filter((node) => entryKey(node) > key).length : 0;
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
    const below = entriesOf(blog.timeline).find((node) => entryKey(node) <= key);
    blog.timeline.insertBefore(gap, below ?? null);
  }
  gap.dataset.after = page.newer;
  gap.firstElementChild.textContent = tn("newer_updates", missing);
}

/** The gap's button: the entries just above the ones below it, the gap staying in place. */
export async function fillGap(blog, gap) {
  if (gap.dataset.busy) return;
  gap.dataset.busy = "1";
  const button = gap.firstElementChild;
  const label = button.textContent;
  button.textContent = t("Loading…");
  try {
    const url = `${blog.api}?after=${encodeURIComponent(gap.dataset.after)}&limit=${blog.pageSize}`;
    const page = await blog.fetchJSON(url);
    keepPlace(gap, () => {
      blog.placeOlder(page.entries);
      updateGap(blog, gap, page);
    });
    blog.announce(tn("new_updates", page.entries.length));
  } catch {
    button.textContent = label;
    blog.announce(t("Could not load older updates. Try again"));
  } finally {
    delete gap.dataset.busy;
  }
}

/** Run a change with `anchor` kept where it is on the screen. */
function keepPlace(anchor, change) {
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
function holdInView(target) {
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
function notice(blog, text) {
  let note = document.getElementById("lb-notice");
  if (!note) {
    note = document.createElement("p");
    note.id = "lb-notice";
    note.className = "lb-notice";
    blog.keepScroll(() => (blog.pinned ?? blog.timeline).before(note));
  }
  note.textContent = text;
  blog.announce(text);
}
