// Drawing the page's times: every <time data-clock> from its datetime, in the zone in use, and
// the relative "3 min ago" beside entries.

import { clock, longDate, relative } from "./times.js";

/** Every `<time data-clock>` in `scope`, in the zone in use (the blog's unless the reader
 * chose their own): the same text the server wrote, or the reader's zone's. */
export function localizeTimes(scope) {
  for (const time of scope.querySelectorAll("time[data-clock]")) {
    const date = new Date(time.dateTime);
    if (Number.isNaN(date.getTime())) continue;
    time.textContent = clock(date);
    time.title = longDate(date);
  }
  for (const link of scope.querySelectorAll(".entry__permalink")) {
    const time = link.querySelector("time");
    if (!time) continue;
    link.title = time.title;
    // "<time>: <headline>" (an accessible name holds the visible text): the time as shown.
    const label = link.getAttribute("aria-label") ?? "";
    const at = label.indexOf(": ");
    if (at >= 0) link.setAttribute("aria-label", `${time.textContent}${label.slice(at)}`);
  }
}

export function refreshRelativeTimes(scope = document) {
  const now = Date.now();
  for (const node of scope.querySelectorAll("[data-ago]")) {
    const date = new Date(node.dataset.ago);
    if (!Number.isNaN(date.getTime())) node.textContent = relative(date, now);
  }
}
