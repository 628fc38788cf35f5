// Small DOM helpers shared by the console and the dashboard: elements, toasts, confirmation.

import { currentZone, timesIn, useZone } from "../reader/times.js";
import { t } from "./i18n.js";

/** el("p", {className: "x", dataset: {id: 1}}, "text", child…) */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "className" || name === "textContent" || name === "hidden" || name === "href" || name === "type" || name === "title" || name === "disabled") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

/**
 * Make `parent`'s children exactly `nodes`, moving as few as it can: a card being edited stays
 * where it is in the document, so the field being typed in keeps its focus and its keystrokes.
 */
export function syncChildren(parent, nodes) {
  nodes.forEach((node, index) => {
    const here = parent.children[index];
    if (here !== node) parent.insertBefore(node, here || null);
  });
  while (parent.children.length > nodes.length) parent.lastElementChild.remove();
}

/** A short message at the bottom of the screen; errors stay until dismissed. */
export function toast(message, { kind = "info", timeout = 5000 } = {}) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const close = el("button", { type: "button", className: "nr-toast__close", "aria-label": t("Dismiss") }, "×");
  const item = el("div", { className: `nr-toast nr-toast--${kind}`, role: kind === "error" ? "alert" : "status" }, el("span", {}, message), close);
  close.addEventListener("click", () => item.remove());
  box.append(item);
  if (kind !== "error") setTimeout(() => item.remove(), timeout);
}

/**
 * Ask with the page's <dialog id="confirm-dialog"> (never window.confirm: it blocks the page and
 * its live stream). Resolves true when confirmed.
 */
export function confirmDialog({ title, message, confirm = t("Confirm"), danger = false }) {
  const dialog = document.getElementById("confirm-dialog");
  dialog.querySelector("[data-role=title]").textContent = title;
  dialog.querySelector("[data-role=message]").textContent = message;
  const ok = dialog.querySelector("[data-role=confirm]");
  ok.textContent = confirm;
  ok.classList.toggle("nr-btn--danger", danger);
  ok.classList.toggle("nr-btn--primary", !danger);
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
  });
}

/** "just now", "4 min", "2 h 5 min": how long ago, for newsroom eyes. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  return `${Math.floor(h / 24)} days`;
}

/**
 * "14:05" in the blog's zone ("Jun 3, 14:05" when not today there), as the reader page writes
 * it: `blog` for a page of many blogs (the dashboard), else the zone in use (the console's
 * chosen blog, see useBlogTimes).
 */
export function shortTime(iso, blog) {
  return (blog ? timesIn(blog.time_zone) : currentZone()).clock(new Date(iso));
}

/** The blog's zone as readers know it ("Kyiv Time", "EDT"): the label of its times. */
export function zoneName(blog) {
  return timesIn(blog?.time_zone).name();
}

/** "14:05:33 India Time": a moment that belongs to no blog (when the dashboard last heard from
 * the server), in the zone of the page, named like every other time. */
export function wallClock(date = new Date()) {
  const zone = currentZone();
  return `${zone.timeWithSeconds(date)} ${zone.name(date)}`;
}

/** "Jun 2, 2024, 14:05 India Time": a date that belongs to no blog (a person's last visit). */
export function wallDate(date) {
  const zone = currentZone();
  return `${zone.longDate(date)} ${zone.name(date)}`;
}

/** The console works on one blog: its times (previews included) in that blog's zone. Returns
 * the zone's name, the label of those times. */
export function useBlogTimes(blog) {
  useZone(blog.time_zone);
  return zoneName(blog);
}

// --- times typed: <input type=datetime-local> holds a wall clock without a zone; the console's
// are the blog's (what a newsroom says: "publish at 18:00" is 18:00 where the blog is).

const wallParts = new Map();
/** Year, month, day, hour and minute of `date` on the wall clocks of `zone`. */
function wallOf(date, zone) {
  if (!wallParts.has(zone)) {
    const options = { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" };
    wallParts.set(zone, new Intl.DateTimeFormat("en-US", options));
  }
  const parts = Object.fromEntries(wallParts.get(zone).formatToParts(date).map((p) => [p.type, p.value]));
  return parts;
}

/** "2024-06-25T14:05": an ISO time as the blog's wall clock shows it (the zone in use). */
export function toZoneInput(iso, zone = currentZone().zone) {
  if (!iso) return "";
  const p = wallOf(new Date(iso), zone);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

/** The ISO time of "2024-06-25T14:05" on the blog's wall clock; "" for an empty or bad value.
 * A time the clocks skip (a spring-forward hour) is read with the offset before the change. */
export function fromZoneInput(value, zone = currentZone().zone) {
  const match = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(value || "");
  if (!match) return "";
  const [year, month, day, hour, minute] = match.slice(1).map(Number);
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  const offsetAt = (utc) => {
    const p = wallOf(new Date(utc), zone);
    return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - utc;
  };
  // The zone's offsets a day before and after (a zone changes at most once in between): the
  // earlier reading where the clocks went back, the offset before the change where they
  // skipped the hour (as 02:30 is read on the day clocks go from 02:00 to 03:00: 03:30).
  const before = wall - offsetAt(wall - 86400000);
  const after = wall - offsetAt(wall + 86400000);
  const shows = (utc) => utc - wall + offsetAt(utc) === 0;
  const utc = shows(before) || !shows(after) ? before : after;
  return new Date(utc).toISOString();
}

/** Someone's words (a name, a headline) set into a sentence of the console's language: isolated
 * (a first-strong isolate), so a Latin name in an Arabic sentence keeps its brackets and its
 * place, and an Arabic headline in an English one reads the right way round. */
export function isolated(text) {
  return `\u2068${text}\u2069`;
}

export function formatNumber(n) {
  return new Intl.NumberFormat().format(n);
}
