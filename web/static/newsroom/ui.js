// Small DOM helpers shared by the console and the dashboard: elements, toasts, confirmation.

import { currentZone, timesIn, useZone } from "../reader/times.js";

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

/** A short message at the bottom of the screen; errors stay until dismissed. */
export function toast(message, { kind = "info", timeout = 5000 } = {}) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const close = el("button", { type: "button", className: "nr-toast__close", "aria-label": "Dismiss" }, "×");
  const item = el("div", { className: `nr-toast nr-toast--${kind}`, role: kind === "error" ? "alert" : "status" }, el("span", {}, message), close);
  close.addEventListener("click", () => item.remove());
  box.append(item);
  if (kind !== "error") setTimeout(() => item.remove(), timeout);
}

/**
 * Ask with the page's <dialog id="confirm-dialog"> (never window.confirm: it blocks the page and
 * its live stream). Resolves true when confirmed.
 */
export function confirmDialog({ title, message, confirm = "Confirm", danger = false }) {
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

export function formatNumber(n) {
  return new Intl.NumberFormat().format(n);
}
