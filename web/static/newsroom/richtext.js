// Light rich text on the browser's contenteditable: bold, italic, link, lists, quote.
//
// The server sanitises every body with an allowlist anyway; cleaning here too keeps pasted
// Word or web markup out of the editor, so what the editor sees is what readers will get.

// Pasted markup keeps only what the toolbar makes. An entry's own body (it may come from the API
// with tables or figures) keeps everything the server's allowlist keeps (liveblog/sanitize.py),
// so editing one word never strips the rest.
const LIGHT = new Set(["P", "BR", "STRONG", "EM", "A", "UL", "OL", "LI", "BLOCKQUOTE"]);
const FULL = new Set([
  ...LIGHT, "ABBR", "CITE", "CODE", "DEL", "FIGCAPTION", "FIGURE", "H2", "H3", "H4", "HR", "IMG",
  "INS", "MARK", "PRE", "Q", "S", "SMALL", "SUB", "SUP", "TABLE", "TBODY", "TD", "TH", "THEAD",
  "TIME", "TR", "U",
]);
const ATTRIBUTES = {
  A: ["href", "title"],
  IMG: ["src", "alt", "title", "width", "height"],
  TIME: ["datetime"],
  TD: ["colspan", "rowspan"],
  TH: ["colspan", "rowspan", "scope"],
  BLOCKQUOTE: ["cite"],
  Q: ["cite"],
};
const RENAME = { B: "STRONG", I: "EM", DIV: "P", SECTION: "P", ARTICLE: "P", H1: "H2", H5: "H4", H6: "H4" };
const URL_ATTRIBUTES = new Set(["href", "src", "cite"]);
// Dropped with their content; any other unknown element is unwrapped (its text stays).
const DROP = new Set([
  "SCRIPT", "STYLE", "TEMPLATE", "META", "LINK", "TITLE", "HEAD", "IFRAME", "OBJECT", "EMBED",
  "SVG", "MATH", "NOSCRIPT", "VIDEO", "AUDIO", "CANVAS", "FORM", "INPUT", "BUTTON", "SELECT",
  "TEXTAREA",
]);
const BLOCKS = new Set([
  "P", "UL", "OL", "BLOCKQUOTE", "H2", "H3", "H4", "PRE", "TABLE", "FIGURE", "HR",
]);

/** http(s) and mailto links only; anything else (javascript:, data:) is not a link. */
export function safeHref(value) {
  try {
    const url = new URL(String(value).trim(), window.location.href);
    return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function copyElement(node, allowed) {
  let tag = RENAME[node.tagName] || node.tagName;
  if (!allowed.has(tag) && (tag === "H2" || tag === "H3" || tag === "H4")) tag = "P";
  if (!allowed.has(tag)) return null;
  const copy = document.createElement(tag.toLowerCase());
  for (const name of ATTRIBUTES[tag] || []) {
    if (allowed === LIGHT && name !== "href") continue;
    let value = node.getAttribute(name);
    if (value === null) continue;
    if (URL_ATTRIBUTES.has(name)) value = safeHref(value);
    if (value !== null) copy.setAttribute(name, value);
  }
  return copy;
}

function cleanChildren(from, to, allowed) {
  for (const node of from.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) {
      to.append(node.textContent.replace(/\u00a0/g, " "));
      continue;
    }
    if (node.nodeType !== Node.ELEMENT_NODE || DROP.has(node.tagName)) continue;
    if (node.tagName === "IMG" && !allowed.has("IMG")) continue;
    const copy = copyElement(node, allowed);
    if (copy === null || (copy.tagName === "A" && !copy.hasAttribute("href"))) {
      cleanChildren(node, to, allowed); // an unknown wrapper (span, font, o:p…): its content
      continue;
    }
    cleanChildren(node, copy, allowed);
    to.append(copy);
  }
}

/**
 * Allowlisted HTML, parsed inertly (nothing loads or runs). `light`: only what the toolbar
 * makes, for pasted markup; otherwise what the server keeps, for an entry's own body.
 */
export function cleanHtml(html, { light = false } = {}) {
  const doc = new DOMParser().parseFromString(`<body>${quietAttributes(html)}</body>`, "text/html");
  const out = document.createElement("div");
  cleanChildren(doc.body, out, light ? LIGHT : FULL);
  return normalize(out);
}

const TAG = /<[a-z][^>]*>/gi;
const INLINE_ATTRIBUTE = /\s(?:on[a-z]+|style)\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)/gi;

/**
 * Inline handlers and styles out of the tags before parsing. Not for safety (nothing parsed
 * inertly runs, and the allowlist drops them anyway) but because Chrome reports every one it
 * sees as a CSP violation in the console, even in an inert document.
 */
function quietAttributes(html) {
  return html.replace(TAG, (tag) => tag.replace(INLINE_ATTRIBUTE, ""));
}

/** Top-level runs of text and inline nodes become paragraphs; empty blocks go. */
function normalize(root) {
  const result = document.createElement("div");
  let paragraph = null;
  for (const node of [...root.childNodes]) {
    if (node.nodeType === Node.ELEMENT_NODE && BLOCKS.has(node.tagName)) {
      paragraph = null;
      result.append(node);
      continue;
    }
    if (node.nodeName === "BR" && paragraph === null) continue;
    if (node.nodeType === Node.TEXT_NODE && !node.textContent.trim() && paragraph === null) continue;
    if (paragraph === null) {
      paragraph = document.createElement("p");
      result.append(paragraph);
    }
    paragraph.append(node);
  }
  for (const block of [...result.querySelectorAll("p, li, blockquote, h2, h3, h4")]) {
    while (block.lastChild?.nodeName === "BR") block.lastChild.remove();
    if (!block.textContent.trim() && !block.querySelector("img, hr")) block.remove();
  }
  return result.innerHTML;
}

// A web address in running text: up to a space, a quote or an angle bracket.
const URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"']+/gi;
const TRAILING = /[.,;:!?'"\]]+$/;

/** A URL as typed in a sentence, without the punctuation that ends the sentence. */
function trimUrl(url) {
  let text = url.replace(TRAILING, "");
  // "(see https://example.org/a)": the bracket is the sentence's, unless the URL opened one.
  while (text.endsWith(")") && (text.match(/\(/g) || []).length < (text.match(/\)/g) || []).length) {
    text = text.slice(0, -1).replace(TRAILING, "");
  }
  return text;
}

/** Plain web addresses in the text become links (outside links already there). */
export function linkify(html) {
  const root = document.createElement("div");
  root.innerHTML = html;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) {
    if (!walker.currentNode.parentElement.closest("a")) texts.push(walker.currentNode);
  }
  for (const node of texts) {
    const text = node.textContent;
    const parts = [];
    let last = 0;
    for (const match of text.matchAll(URL_IN_TEXT)) {
      const url = trimUrl(match[0]);
      const href = safeHref(url);
      if (!href || !/^https?:\/\/[^/]+\.[^/]/i.test(url)) continue; // a host with a dot
      parts.push(text.slice(last, match.index));
      const link = document.createElement("a");
      link.href = href;
      link.textContent = url;
      parts.push(link);
      last = match.index + url.length;
    }
    if (!parts.length) continue;
    parts.push(text.slice(last));
    node.replaceWith(...parts.filter((p) => p !== ""));
  }
  return root.innerHTML;
}

/** The one http(s) address a pasted text is, or null ("see https://…" is text, not a link). */
export function pastedUrl(text) {
  const trimmed = String(text || "").trim();
  return /^https?:\/\/\S+$/i.test(trimmed) && safeHref(trimmed) ? trimmed : null;
}

function escapeText(text) {
  const div = document.createElement("div");
  div.textContent = text;
  return div.innerHTML;
}

/** Plain text as paragraphs: blank lines split paragraphs, single newlines become <br>; web
 * addresses become links. */
export function textToHtml(text) {
  const html = text
    .replace(/\r\n?/g, "\n")
    .split(/\n{2,}/)
    .filter((part) => part.trim())
    .map((part) => `<p>${escapeText(part).replace(/\n/g, "<br>")}</p>`)
    .join("");
  return linkify(html);
}

const COMMANDS = {
  bold: () => document.execCommand("bold"),
  italic: () => document.execCommand("italic"),
  ul: () => document.execCommand("insertUnorderedList"),
  ol: () => document.execCommand("insertOrderedList"),
  quote: () => {
    const inQuote = closestInEditor("BLOCKQUOTE");
    document.execCommand("formatBlock", false, inQuote ? "p" : "blockquote");
  },
};

let currentEditor = null;

function closestInEditor(tag) {
  const selection = document.getSelection();
  let node = selection?.anchorNode || null;
  while (node && node !== currentEditor) {
    if (node.nodeName === tag) return node;
    node = node.parentNode;
  }
  return null;
}

/**
 * A contenteditable body with its toolbar. `root` holds `[data-role=body]`, buttons with
 * `data-cmd`, and the link bar `[data-role=link-bar]`. `onInput` runs after every change.
 */
export class RichText {
  /** `onLink(url)`: a pasted web address; true when the form took it (an embed), so it is
   * not put into the text. */
  constructor(root, onInput, { onLink = () => false } = {}) {
    this.root = root;
    this.onLink = onLink;
    this.body = root.querySelector("[data-role=body]");
    this.linkBar = root.querySelector("[data-role=link-bar]");
    this.linkInput = this.linkBar.querySelector("input");
    this.onInput = onInput;
    this.savedRange = null;
    this.body.addEventListener("focus", () => {
      currentEditor = this.body;
      document.execCommand("defaultParagraphSeparator", false, "p");
    });
    this.body.addEventListener("input", () => this.changed());
    this.body.addEventListener("paste", (event) => this.paste(event));
    this.body.addEventListener("drop", (event) => event.preventDefault()); // no foreign markup
    this.body.addEventListener("keydown", (event) => this.shortcut(event));
    root.querySelector("[role=toolbar]").addEventListener("mousedown", (event) => {
      if (event.target.closest("button")) event.preventDefault(); // keep the selection
    });
    root.querySelector("[role=toolbar]").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-cmd]");
      if (button) this.command(button.dataset.cmd);
    });
    this.linkBar.querySelector("[data-link=apply]").addEventListener("click", () => this.applyLink());
    this.linkBar.querySelector("[data-link=remove]").addEventListener("click", () => this.removeLink());
    this.linkBar.querySelector("[data-link=cancel]").addEventListener("click", () => this.closeLink());
    this.linkInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this.applyLink();
      } else if (event.key === "Escape") {
        event.preventDefault();
        this.closeLink();
      }
    });
    document.addEventListener("selectionchange", () => {
      if (document.activeElement === this.body) this.updateToolbar();
    });
  }

  /** What is sent and previewed: cleaned, with plain web addresses as links. */
  get html() {
    return linkify(cleanHtml(this.body.innerHTML));
  }

  set html(value) {
    this.body.innerHTML = cleanHtml(value || "");
  }

  get empty() {
    return !this.body.textContent.trim();
  }

  focus() {
    this.body.focus();
  }

  changed() {
    if (this.empty && this.body.innerHTML !== "") this.body.innerHTML = ""; // :empty placeholder
    this.onInput();
  }

  command(name) {
    this.body.focus();
    if (name === "link") {
      this.openLink();
      return;
    }
    COMMANDS[name]?.();
    this.updateToolbar();
    this.changed();
  }

  shortcut(event) {
    if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
    if (event.key.toLowerCase() === "k") {
      event.preventDefault();
      this.openLink();
    }
  }

  paste(event) {
    event.preventDefault();
    const data = event.clipboardData;
    const url = pastedUrl(data.getData("text/plain"));
    if (url) {
      if (!this.onLink(url)) {
        const href = safeHref(url).replace(/"/g, "%22");
        document.execCommand("insertHTML", false, `<a href="${href}">${escapeText(url)}</a>&nbsp;`);
      }
      this.changed();
      return;
    }
    const html = data.getData("text/html");
    const cleaned = html ? cleanHtml(html, { light: true }) : textToHtml(data.getData("text/plain"));
    if (cleaned) document.execCommand("insertHTML", false, cleaned);
    this.changed();
  }

  updateToolbar() {
    for (const button of this.root.querySelectorAll("button[data-cmd]")) {
      const name = button.dataset.cmd;
      let on = false;
      if (name === "bold" || name === "italic") on = document.queryCommandState(name);
      else if (name === "ul") on = document.queryCommandState("insertUnorderedList");
      else if (name === "ol") on = document.queryCommandState("insertOrderedList");
      else if (name === "quote") on = Boolean(closestInEditor("BLOCKQUOTE"));
      else if (name === "link") on = Boolean(closestInEditor("A"));
      button.setAttribute("aria-pressed", String(on));
    }
  }

  openLink() {
    const selection = document.getSelection();
    if (selection.rangeCount && this.body.contains(selection.anchorNode)) {
      this.savedRange = selection.getRangeAt(0).cloneRange();
    }
    const link = closestInEditor("A");
    this.linkInput.value = link ? link.getAttribute("href") : "";
    this.linkBar.querySelector("[data-link=remove]").hidden = !link;
    this.linkBar.hidden = false;
    this.linkInput.setCustomValidity("");
    this.linkInput.focus();
  }

  restoreSelection() {
    this.body.focus();
    if (this.savedRange) {
      const selection = document.getSelection();
      selection.removeAllRanges();
      selection.addRange(this.savedRange);
    }
  }

  applyLink() {
    const href = safeHref(this.linkInput.value);
    if (!href || !/^(https?:|mailto:)/i.test(this.linkInput.value.trim())) {
      this.linkInput.setCustomValidity("Enter a full https:// or mailto: address");
      this.linkInput.reportValidity();
      return;
    }
    this.restoreSelection();
    const selection = document.getSelection();
    if (selection.isCollapsed && !closestInEditor("A")) {
      const text = href.replace(/^mailto:/, "");
      document.execCommand("insertHTML", false, `<a href="${href.replace(/"/g, "%22")}">${escapeText(text)}</a>`);
    } else {
      document.execCommand("createLink", false, href);
    }
    this.closeLink(false);
    this.changed();
  }

  removeLink() {
    this.restoreSelection();
    const link = closestInEditor("A");
    if (link) {
      const range = document.createRange();
      range.selectNodeContents(link);
      const selection = document.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    document.execCommand("unlink");
    this.closeLink(false);
    this.changed();
  }

  closeLink(restore = true) {
    this.linkBar.hidden = true;
    this.savedRange = restore ? this.savedRange : null;
    if (restore) this.restoreSelection();
    this.updateToolbar();
  }
}
