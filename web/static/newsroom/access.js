// When the server ends this person's access: a stream that held the token ends with an
// `access.ended` event, or a reconnect is refused (401, 403). Whoever notices calls
// accessEnded(); the console (editor.js) listens once and shows the sentence instead of
// reconnecting forever. The sentences live here and nowhere else.

const SENTENCES = {
  revoked: "Your access to this blog was revoked: sign in again.",
  expired: "Your access to this blog expired: sign in again.",
  changed: "Your access to this blog was changed: sign in again.",
};
const EVENT = "liveblog:access-ended";

/** The reason a refused request gives: 401 is a revoked or expired token, 403 a changed one. */
export function reasonOf(status, headers) {
  if (status === 403) return "changed";
  return /invalid_token/.test(headers?.get("WWW-Authenticate") || "") ? "expired" : "revoked";
}

/** Tell the console that access ended, and why ("revoked" | "expired" | "changed"). */
export function accessEnded(reason) {
  const sentence = SENTENCES[reason] || SENTENCES.changed;
  window.dispatchEvent(new CustomEvent(EVENT, { detail: { reason, sentence } }));
}

/** `handler({reason, sentence})` whenever access ends. */
export function onAccessEnded(handler) {
  window.addEventListener(EVENT, (event) => handler(event.detail));
}
