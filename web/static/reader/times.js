// Times as the reader sees them: in their own zone, in the page's language ("14:05", "2 Jun,
// 00:30" when not from today, "3 min ago", day headings), and the timeline's order.

import { t } from "./i18n.js";

/**
 * The page's language (the blog's), in the reader's own variant of it when they have one: an
 * "en" blog read by an en-GB browser formats dates the British way, a "de" blog stays German.
 */
function pageLocale() {
  const page = document.documentElement.lang || "en";
  const base = page.split("-")[0].toLowerCase();
  const own = (navigator.languages || []).find((tag) => tag.split("-")[0].toLowerCase() === base);
  return own || page;
}

export const LOCALE = pageLocale();

const timeOnly = new Intl.DateTimeFormat(LOCALE, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const withDay = new Intl.DateTimeFormat(LOCALE, {
  day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
});
const longFormat = new Intl.DateTimeFormat(LOCALE, { dateStyle: "long", timeStyle: "short" });
const fullDay = new Intl.DateTimeFormat(LOCALE, { dateStyle: "full" });
const shortDay = new Intl.DateTimeFormat(LOCALE, { day: "numeric", month: "short" });
const ago = new Intl.RelativeTimeFormat(LOCALE, { numeric: "auto", style: "short" });

/** `2024-06-01`: the day of a time in the reader's zone. */
export function dayKey(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** "14:05" in the reader's zone, with the date when it is not from today there. */
export function clock(date, now = new Date()) {
  return dayKey(date) === dayKey(now) ? timeOnly.format(date) : withDay.format(date);
}

/** "25 June 2024 at 14:05", for tooltips and accessible names. */
export function longDate(date) {
  return longFormat.format(date);
}

/** "Saturday, 1 June 2024": a day heading of the timeline. */
export function dayName(date) {
  return fullDay.format(date);
}

/** "just now", "3 min ago", "2 hr ago", "yesterday", "3 days ago", then a date. */
export function relative(date, now = Date.now()) {
  const seconds = Math.round((now - date.getTime()) / 1000);
  if (seconds < 45) return t("just now");
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return ago.format(-minutes, "minute");
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return ago.format(-hours, "hour");
  const days = Math.floor(hours / 24);
  if (days < 7) return ago.format(-days, "day");
  return shortDay.format(date);
}

/** Microseconds since the epoch of an RFC 3339 time; Date keeps only milliseconds. */
export function micros(iso) {
  const fraction = /\.(\d+)/.exec(iso);
  const whole = Date.parse(iso.replace(/\.\d+/, ""));
  return whole * 1000 + (fraction ? Number(`${fraction[1]}000000`.slice(0, 6)) : 0);
}

/**
 * The timeline's sort key: published_at, then creation order (entry ids sort by creation).
 * Newest first means a larger key goes higher.
 */
export function orderKey(published, id) {
  return `${String(micros(published)).padStart(17, "0")}:${id}`;
}
