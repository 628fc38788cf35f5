// When the server ends this person's access: a stream that held the token ends with an
// `access.ended` event, a reconnect is refused (401, 403), or any call is refused (401).
// Whoever notices calls accessEnded(); the console (editor.js) listens once, ends its session
// and says why instead of retrying forever. The sentences live here and nowhere else.

import { t } from "./i18n.js";

const SENTENCES = {
  revoked: () => t("Your access to this blog was revoked: sign in again."),
  expired: () => t("Your access to this blog expired: sign in again."),
  changed: () => t("Your access to this blog was changed: sign in again."),
};
const EVENT = "liveblog:access-ended";

/** The reason a refused request gives: 401 is a revoked or expired token, 403 a changed one. */
export function reasonOf(status, headers) {
  if (status === 403) return "changed";
  return /invalid_token/.test(headers?.get("WWW-Authenticate") || "") ? "expired" : "revoked";
}

/** The sentence that says why access ended. */
export function accessSentence(reason) {
  return (SENTENCES[reason] || SENTENCES.changed)();
}

/**
 * Tell the console that access ended, and why ("revoked" | "expired" | "changed"). `secret` is
 * the token that was refused: the console ends only if it is still the one it is signed in with
 * (an older token's unsent entries, refused, end nothing).
 */
export function accessEnded(reason, secret = null) {
  const known = Object.hasOwn(SENTENCES, reason) ? reason : "changed";
  const sentence = accessSentence(known);
  window.dispatchEvent(new CustomEvent(EVENT, { detail: { reason: known, sentence, secret } }));
}

/** `handler({reason, sentence, secret})` whenever access ends. */
export function onAccessEnded(handler) {
  window.addEventListener(EVENT, (event) => handler(event.detail));
}
