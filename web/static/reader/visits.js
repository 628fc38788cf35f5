// What this browser last saw of a blog: the newest entry the page showed, kept in
// localStorage only (no cookie, nothing sent to the server), so a later visit can say what
// arrived since. Storage a browser refuses (a sandboxed frame, a private mode) means no memory.

const keyOf = (slug) => `liveblog:seen:${slug}`;

/** {id, key} of the newest entry shown on the last visit (key: the timeline's order key). */
export function lastSeen(slug) {
  try {
    const seen = JSON.parse(window.localStorage.getItem(keyOf(slug)) || "null");
    return seen && typeof seen.id === "string" && typeof seen.key === "string" ? seen : null;
  } catch {
    return null;
  }
}

/** Remember `key` as the newest shown, unless a newer one is remembered already. */
export function remember(slug, id, key) {
  try {
    const seen = lastSeen(slug);
    if (seen && seen.key >= key) return;
    window.localStorage.setItem(keyOf(slug), JSON.stringify({ id, key }));
  } catch {
    // storage refused or full: nothing remembered
  }
}
