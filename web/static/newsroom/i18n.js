// The newsroom's words in the person's language. The page carries the catalogue of what these
// scripts write (<script id="newsroom-i18n">, made from the calls of t and tn with a string in
// this directory: liveblog/pages/newsroom_words.py); without it, or for a message it lacks,
// the English source text is used.

import { t as readerText } from "../reader/i18n.js";

function load() {
  try {
    return JSON.parse(document.getElementById("newsroom-i18n")?.textContent || "{}");
  } catch {
    return {};
  }
}

const catalogue = load();
export const language = document.documentElement.lang || "en";
const pluralRules = new Intl.PluralRules(language);

const fill = (text, values) => text.replace(/%\((\w+)\)s/g, (_, name) => String(values[name] ?? ""));

/** A message with its `%(name)s` placeholders filled in. */
export function t(message, values = {}) {
  return fill(catalogue.messages?.[message] ?? message, values);
}

/** A message with a number: the language's form for `count` ("1 entry", "3 entries"). */
export function tn(singular, plural, count, values = {}) {
  const forms = catalogue.plurals?.[singular] ?? {};
  const text = forms[pluralRules.select(count)] ?? forms.other ?? (count === 1 ? singular : plural);
  return fill(text, { count, ...values });
}

/** A word the reader pages also write ("Breaking", "Key event"), in the page's language. */
export const readers = readerText;

const RTL = new Set(["ar", "he", "fa", "ur", "ps", "sd", "ug", "yi", "dv", "ckb", "syr"]);

/** "rtl" or "ltr": the direction a language is written in. */
export function directionOf(tag) {
  try {
    const locale = new Intl.Locale(tag || "en");
    const info = locale.getTextInfo?.() ?? locale.textInfo;
    if (info?.direction) return info.direction;
  } catch {
    // an unknown tag: fall through
  }
  return RTL.has(String(tag).split("-")[0].toLowerCase()) ? "rtl" : "ltr";
}

const COOKIE = "liveblog-newsroom-language";

/** The language menus: the choice is remembered by this browser (a cookie the server reads to
 * render the newsroom's pages) and the page is drawn again in it. */
export function wireLanguageChoice() {
  for (const select of document.querySelectorAll("[data-role=console-language]")) {
    select.addEventListener("change", () => {
      document.cookie = `${COOKIE}=${encodeURIComponent(select.value)}; path=/; max-age=31536000; SameSite=Lax`;
      window.location.reload();
    });
  }
}
