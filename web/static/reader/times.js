// Times as every page shows them (the reader's pages, the console, the dashboard): one module,
// one policy. A time is written in a blog's zone, in the page's language and digits ("14:05",
// "Jun 2, 00:30" when not from today there, "Jun 2, 2023, 00:30" from another year), labelled
// with a name readers know ("Kyiv Time", "EDT"), never an IANA id.
//
// The server writes the same strings (liveblog/i18n/times.py): the page names the zone and the
// numbering system it used (<html data-time-zone data-numbering>), and every format below is the
// one Babel's is built to match, so the script's text and the server's agree to the digit.
// A reader may choose their own zone instead (remembered in this browser only).

import { t } from "./i18n.js";

const root = document.documentElement;
/** The page's language: the blog's, exactly (a reader's en-GB would change the text). */
export const LOCALE = root.lang || "en";
const NUMBERING = root.dataset.numbering || "latn";
/** The zone the server wrote the page's times in; the browser's own on pages that name none. */
export const PAGE_ZONE = root.dataset.timeZone || undefined;
export const OWN_ZONE = new Intl.DateTimeFormat().resolvedOptions().timeZone;
const CHOICE_KEY = "liveblog:time-zone"; // "own": the reader chose their own zone

const TIME = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
// Spaces written plain, as the server writes them: CLDR versions differ in where they put a
// narrow or no-break space, and the browser's CLDR is rarely Babel's.
const plain = (text) => text.replace(/[\u00a0\u202f]/g, " ");

/** The formats of one zone. Intl formatters are costly to make: one set per zone and locale. */
export class ZoneTimes {
  constructor(zone, locale = LOCALE) {
    // Gregorian, as Babel writes every date (Intl would use a Persian calendar for "fa").
    const base = { timeZone: zone, numberingSystem: NUMBERING, calendar: "gregory" };
    const make = (options) => new Intl.DateTimeFormat(locale, { ...base, ...options });
    this.zone = make({}).resolvedOptions().timeZone;
    this.locale = locale;
    this.time = make(TIME);
    this.seconds = make({ ...TIME, second: "2-digit" });
    this.dayTime = make({ day: "numeric", month: "short", ...TIME });
    this.yearDayTime = make({ year: "numeric", day: "numeric", month: "short", ...TIME });
    this.full = make({ dateStyle: "full" });
    this.parts = new Intl.DateTimeFormat("en-US", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" });
    this.shortDay = make({ day: "numeric", month: "short" });
    this.ago = new Intl.RelativeTimeFormat(locale, { numeric: "auto", style: "short", numberingSystem: NUMBERING });
  }

  /** `2024-06-01`: the day of a time in this zone. */
  dayKey(date) {
    const { year, month, day } = Object.fromEntries(this.parts.formatToParts(date).map((p) => [p.type, p.value]));
    return `${year}-${month}-${day}`;
  }

  /** "14:05" today in this zone, "Jun 2, 00:30" this year, "Jun 2, 2023, 00:30" before. */
  clock(date, now = new Date()) {
    const day = this.dayKey(date);
    const today = this.dayKey(now);
    if (day === today) return plain(this.time.format(date));
    const format = day.slice(0, 4) === today.slice(0, 4) ? this.dayTime : this.yearDayTime;
    return plain(format.format(date));
  }

  /** "14:05:33": now, to the second (a dashboard's "updated at"). */
  timeWithSeconds(date) {
    return plain(this.seconds.format(date));
  }

  /** "Jun 2, 2024, 14:05": with the year, for tooltips and accessible names. */
  longDate(date) {
    return plain(this.yearDayTime.format(date));
  }

  /** "Sunday, June 2, 2024": a day heading of the timeline. */
  dayName(date) {
    return plain(this.full.format(date));
  }

  /** The zone's name as the language says it: its short name when the language has one
   * ("EDT", "OESZ"), else its usual name ("India Time"); never a GMT offset when a name exists. */
  name(date = new Date()) {
    const named = (style) => new Intl.DateTimeFormat(this.locale, { timeZone: this.zone, timeZoneName: style })
      .formatToParts(date).find((p) => p.type === "timeZoneName")?.value;
    const short = named("short");
    if (short && !/\d/.test(short)) return short;
    return named("shortGeneric") || named("long") || short || this.zone;
  }
}

const byZone = new Map();
/** The formats of a zone (cached): `timesIn(blog.time_zone)`. */
export function timesIn(zone) {
  const key = zone || "";
  if (!byZone.has(key)) byZone.set(key, new ZoneTimes(zone || undefined));
  return byZone.get(key);
}

function storedChoice() {
  try {
    return window.localStorage.getItem(CHOICE_KEY) === "own";
  } catch {
    return false; // storage refused (a sandboxed frame, a strict privacy setting)
  }
}

/** Whether the reader chose their own zone over the blog's (on pages that name a zone). */
export function ownZoneChosen() {
  return Boolean(PAGE_ZONE) && storedChoice();
}

export function chooseOwnZone(own) {
  try {
    if (own) window.localStorage.setItem(CHOICE_KEY, "own");
    else window.localStorage.removeItem(CHOICE_KEY);
  } catch {
    // not remembered, still applied to this page
  }
  current = timesIn(own ? OWN_ZONE : PAGE_ZONE);
}

/** The zone times are drawn in now: the page's, or the reader's own when they chose it. */
let current = timesIn(ownZoneChosen() ? OWN_ZONE : PAGE_ZONE);

/** Draw this page's times in another zone from now on (the console: the chosen blog's). */
export function useZone(zone) {
  current = timesIn(zone);
}

export const currentZone = () => current;
export const clock = (date, now) => current.clock(date, now);
export const longDate = (date) => current.longDate(date);
export const dayName = (date) => current.dayName(date);
export const dayKey = (date) => current.dayKey(date);

/** "just now", "3 min ago", "2 hr ago", "yesterday", "3 days ago", then a date. */
export function relative(date, now = Date.now()) {
  const seconds = Math.round((now - date.getTime()) / 1000);
  if (seconds < 45) return t("just now");
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return current.ago.format(-minutes, "minute");
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return current.ago.format(-hours, "hour");
  const days = Math.floor(hours / 24);
  if (days < 7) return current.ago.format(-days, "day");
  return current.shortDay.format(date);
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
