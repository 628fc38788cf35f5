// The page's interface text in the blog's language: the server puts the catalogue of what the
// script writes into the page (<script type="application/json" id="liveblog-i18n">), so live
// text ("2 new updates", "Reconnecting…") speaks the language the server-rendered page does.
// Without it (or for a message it lacks: an English page's carries none) the English source
// text is used.

function load() {
  const node = document.getElementById("liveblog-i18n");
  if (!node) return { messages: {}, plurals: {} };
  try {
    return JSON.parse(node.textContent);
  } catch {
    return { messages: {}, plurals: {} };
  }
}

const catalogue = load();
const pluralRules = new Intl.PluralRules(document.documentElement.lang || "en");

const fill = (text, values) =>
  text.replace(/%\((\w+)\)s/g, (_, name) => String(values[name] ?? ""));

/** A message with its `%(name)s` placeholders filled in. */
export function t(message, values = {}) {
  return fill(catalogue.messages?.[message] ?? message, values);
}

// The plural messages' English forms, singular and plural (the server's CLIENT_PLURALS).
const PLURALS = {
  new_updates: ["%(count)s new update", "%(count)s new updates"],
  newer_updates: ["Show %(count)s newer update", "Show %(count)s newer updates"],
  since_last_visit: ["%(count)s update since your last visit", "%(count)s updates since your last visit"],
};

/** A plural message (`new_updates`) for `count`, in the form the language uses for it. */
export function tn(name, count, values = {}) {
  const forms = catalogue.plurals?.[name] ?? {};
  const category = pluralRules.select(count);
  const text = forms[category] ?? forms.other ?? PLURALS[name][category === "one" ? 0 : 1];
  return fill(text, { count, ...values });
}
