// "Share" under every entry: a link to the entry's own page (what a reader without JavaScript
// follows), which here opens the system share sheet where the browser has one, or else copies
// the link. Either way a screen reader hears what happened (the page's aria-live announcer),
// and the link itself says so for a moment.

import { t } from "./i18n.js";

const SAID_MS = 2500;

/**
 * Share links inside `scope` (by delegation: live entries need nothing more).
 * @param {HTMLElement} scope
 * @param {(text: string) => void} announce
 */
export function enableShare(scope, announce) {
  scope.addEventListener("click", (event) => {
    const link = event.target.closest("a.entry__share");
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return; // a new tab
    event.preventDefault();
    share(link, announce);
  });
}

async function share(link, announce) {
  const url = new URL(link.getAttribute("href"), window.location.href).href;
  const article = link.closest("article");
  const headline = article?.querySelector(".entry__headline")?.textContent;
  const title = headline || document.querySelector("meta[property='og:title']")?.content || document.title;
  if (typeof navigator.share === "function") {
    try {
      await navigator.share({ title, url });
      return; // the system's own sheet told the reader what happened
    } catch (error) {
      if (error?.name === "AbortError") return; // the reader closed the sheet
      // NotAllowedError (e.g. a frame without web-share): copy instead
    }
  }
  if (await copy(url)) {
    say(link, announce, t("Link copied"));
  } else {
    offer(link, url, announce);
  }
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false; // no clipboard here (an insecure origin, a frame without the permission)
  }
}

/** The link says it for a moment; the announcer says it to screen readers. */
function say(link, announce, text) {
  announce(text);
  const label = link.textContent;
  link.textContent = text;
  link.classList.add("entry__share--done");
  clearTimeout(link.shareTimer);
  link.shareTimer = setTimeout(() => {
    link.textContent = label;
    link.classList.remove("entry__share--done");
  }, SAID_MS);
}

/** Neither a share sheet nor a clipboard: the link in a field, selected, to copy by hand. */
function offer(link, url, announce) {
  const actions = link.parentElement;
  let field = actions.querySelector(".entry__share-url");
  if (!field) {
    field = document.createElement("input");
    field.className = "entry__share-url";
    field.readOnly = true;
    field.setAttribute("aria-label", t("Link to this update"));
    actions.append(field);
  }
  field.value = url;
  field.focus();
  field.select();
  announce(t("Copy the selected link"));
}
