// Times as the reader sees them: HH:MM in their own zone, "3 min ago", and timeline order.

const pad = (n) => String(n).padStart(2, "0");

/** "14:05" in the reader's time zone. */
export function clock(date) {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

const longFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "long", timeStyle: "short" });

/** "25 June 2024 at 14:05", for tooltips. */
export function longDate(date) {
  return longFormat.format(date);
}

const shortDay = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });

/** "just now", "3 min ago", "2 h ago", "yesterday", then a date. */
export function relative(date, now = Date.now()) {
  const seconds = Math.round((now - date.getTime()) / 1000);
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.floor(hours / 24);
  if (days === 1) return "yesterday";
  if (days < 7) return `${days} days ago`;
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
