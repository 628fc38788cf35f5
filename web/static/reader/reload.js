// After a `reset` (the stream cannot fill a gap in what the page shows): the timeline read
// again, then live from the position it reflects. Loaded when a reset comes (reader.js), which
// is rare: a first view does without it. A failure throws; the caller tries again later.

import { enableEmbeds } from "./media.js";
import { localizeTimes, refreshRelativeTimes } from "./times.js";

/** The timeline of `blog` (reader.js's LiveBlog) read again, and its stream resumed. */
export async function reload(blog) {
  if (blog.keyOnly) {
    await reloadKeyEvents(blog);
    return;
  }
  const page = await blog.fetchJSON(`${blog.api}?limit=${blog.pageSize}`);
  await revalidateOutside(blog, page.entries);
  blog.pending.clear();
  blog.showPendingCount();
  blog.timeline.replaceChildren();
  blog.setNext(page.next);
  for (const entry of page.entries) blog.place(entry, { highlight: false, older: true });
  blog.afterChange();
  blog.resume(page.last_event_id);
}

/**
 * `reset` in the key events view: every key event, however old, comes from the server's
 * rendering of this view (the API pages through all entries), read as an inert document.
 */
async function reloadKeyEvents(blog) {
  const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
  if (!response.ok) throw new Error(`${window.location.href}: ${response.status}`);
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = doc.getElementById("liveblog");
  const timeline = doc.getElementById("timeline");
  if (!fresh || !timeline) throw new Error("no timeline in the reloaded page");
  blog.pending.clear();
  blog.showPendingCount();
  blog.timeline.replaceChildren(...[...timeline.children].map((n) => document.importNode(n, true)));
  for (const id of blog.deleted) blog.findEntry(id)?.remove();
  enableEmbeds(blog.timeline);
  localizeTimes(blog.timeline);
  refreshRelativeTimes(blog.timeline);
  blog.afterChange();
  blog.resume(fresh.dataset.lastEventId);
}

/** Pinned entries and key events not on the reloaded page: still there, still the same? */
async function revalidateOutside(blog, entries) {
  const onPage = new Set(entries.map((entry) => entry.id));
  const ids = new Set();
  for (const node of blog.pinned?.children ?? []) ids.add(node.dataset.id);
  for (const node of blog.keyList?.children ?? []) ids.add(node.dataset.id);
  for (const id of ids) {
    if (onPage.has(id)) continue;
    const response = await fetch(`${blog.api}/${encodeURIComponent(id)}`);
    if (response.status === 404) blog.removeEntry(id);
    else if (response.ok) blog.place(await response.json(), { highlight: false });
    else throw new Error(`entry ${id}: ${response.status}`);
  }
}
