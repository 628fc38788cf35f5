// Since your last visit: a reader back on the page sees what arrived since the newest entry
// they were shown last time marked, counted ("3 updates since your last visit") and one tap
// away. Nothing of what this browser remembers (reader.js: lastSeen) goes to the server: when more
// arrived than the page holds, the count comes from reading on down the timeline (what "Load
// older" asks for), at most CATCH_UP_PAGES pages. Loaded only when the browser remembers a
// visit and the page shows something newer (reader.js).

import { t, tn } from "./i18n.js";
import { entriesOf, entryKey } from "./render.js";
import { orderKey } from "./times.js";

const CATCH_UP_PAGES = 5; // of 100: "since your last visit" counts up to 500 itself

/** `seen`: {id, key} of the newest entry shown on the last visit (reader.js: lastSeen). */
export async function catchUp(blog, seen) {
  const unseen = blog.shownEntries().filter((node) => entryKey(node) > seen.key);
  if (!unseen.length) return;
  // Entries placed from now on (live, older pages) are marked too when they are newer.
  blog.unseen = { key: seen.key, mark: markUnseen };
  for (const node of unseen) markUnseen(node);
  let count = unseen.length;
  let first = unseen.reduce((a, b) => (entryKey(a) < entryKey(b) ? a : b)).dataset.id;
  const pages = [];
  let more = false;
  const oldest = entriesOf(blog.timeline).at(-1);
  if (blog.next && oldest && entryKey(oldest) > seen.key) {
    let cursor = blog.next;
    try {
      while (cursor) {
        if (pages.length === CATCH_UP_PAGES) {
          more = true;
          break;
        }
        const page = await blog.fetchJSON(`${blog.api}?limit=100&before=${encodeURIComponent(cursor)}`);
        pages.push(page);
        const isNew = (e) => orderKey(e.published_at, e.id) > seen.key;
        const newer = page.entries.filter((e) => isNew(e) && !blog.findEntry(e.id));
        count += newer.length;
        if (newer.length) first = newer[newer.length - 1].id;
        if (!page.entries.every(isNew)) break; // down to what they saw
        cursor = page.next;
      }
    } catch {
      // count what is known
    }
  }
  const message = more
    ? t("More than %(count)s updates since your last visit", { count })
    : tn("since_last_visit", count);
  showCatchUp(blog, message, async () => {
    // The entries read for the count go on the page, down to the first new one.
    blog.keepScroll(() => {
      for (const page of pages) blog.placeOlder(page.entries);
      if (pages.length) blog.setNext(pages.at(-1).next);
    });
    pages.length = 0;
    history.replaceState(null, "", `#entry-${first}`);
    return blog.showEntry(first, { smooth: true });
  });
}

function markUnseen(node) {
  if (node.classList.contains("entry--unseen")) return;
  node.classList.add("entry--unseen");
  const badge = document.createElement("span");
  badge.className = "entry__unseen";
  badge.textContent = t("New");
  node.querySelector(".entry__time")?.append(badge);
}

function showCatchUp(blog, message, jumpToFirst) {
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
  blog.keepScroll(() => (blog.pinned ?? blog.timeline).before(box));
  blog.announce(message);
}
