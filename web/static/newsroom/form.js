// The entry form, for composing and for editing in place: fields, preview, Ctrl/Cmd+Enter.

import { renderEntry } from "../reader/render.js";
import { currentZone } from "../reader/times.js";
import { providerNames, providerSite, recognise, renderable } from "./embeds.js";
import { t } from "./i18n.js";
import { RichText } from "./richtext.js";
import { fromZoneInput, toZoneInput } from "./ui.js";
import { attachUpload } from "./upload.js";


// The language and direction of what is written for the blog being edited (editor.js sets it
// when a blog is chosen): every form, preview and entry view follows it.
const content = { lang: "", dir: "ltr" };

export function setContentLanguage(lang, dir) {
  Object.assign(content, { lang, dir });
}

/** Attributes for an element that shows the blog's text (a rendered entry). */
export function contentAttributes() {
  return content.lang ? { lang: content.lang, dir: content.dir } : {};
}

/**
 * A field of the blog's text in the blog's direction: empty, it starts where the blog's
 * writing starts (the caret, the placeholder); with text, the text decides (`dir=auto`), so a
 * quote in another script reads the right way round and its full stop lands where it belongs.
 */
function followDirection(input) {
  input.dir = input.value ? "auto" : content.dir;
}

const FSI = "\u2068";
const PDI = "\u2069";

/** Text set apart from the direction around it (a first-strong isolate), once. */
function isolate(text) {
  return !text || text.startsWith(FSI) ? text : `${FSI}${text}${PDI}`;
}


/** The form's fields as an API entry body (create) — also what a draft stores. */
function emptyValues() {
  return { headline: "", body: "", labels: [], pinned: false, author: "", published_at: "", media: [], status: "published", publish_at: "" };
}

/** An entry's or a draft's media as a list (drafts written before embeds kept one photo). */
export function mediaList(media) {
  if (Array.isArray(media)) return media;
  return media ? [media] : [];
}

export class EntryForm {
  /**
   * @param {HTMLTemplateElement} template the form's markup
   * @param {{submitLabel: string, onSubmit: Function, onCancel?: Function, onChange?: Function}} options
   */
  constructor(template, { submitLabel, onSubmit, onCancel, onChange, editing = false }) {
    this.element = template.content.firstElementChild.cloneNode(true);
    this.editing = editing;
    this.filledWhen = { input: "", iso: "" }; // datetime-local drops seconds: keep the original
    this.onSubmit = onSubmit;
    this.onChange = onChange || (() => {});
    this.busy = false;
    const q = (selector) => this.element.querySelector(selector);
    this.fields = {
      headline: q("[name=headline]"),
      breaking: q("[name=breaking]"),
      key: q("[name=key]"),
      pinned: q("[name=pinned]"),
      author: q("[name=author]"),
      publishedAt: q("[name=published_at]"),
      photoUrl: q("[name=photo_url]"),
      caption: q("[name=caption]"),
      credit: q("[name=credit]"),
      alt: q("[name=alt]"),
      decorative: q("[name=decorative]"),
      status: q("[name=status]"),
      publishAt: q("[name=publish_at]"),
      correction: q("[name=correction]"),
      embedUrl: q("[name=embed_url]"),
      embedCaption: q("[name=embed_caption]"),
    };
    this.when = q("[data-role=when]");
    this.publishAtField = q("[data-role=publish-at]");
    this.correctionField = q("[data-role=correction]");
    this.submitLabel = submitLabel;
    this.role = "editor";
    this.fields.status.addEventListener("change", () => this.statusChanged());
    this.photo = q("[data-role=photo]");
    this.embed = q("[data-role=embed]");
    this.embedStatus = q("[data-role=embed-status]");
    this.photoRefusal = q("[data-role=photo-refusal]");
    this.extraMedia = []; // media the form has no fields for (a second photo…), kept as they are
    this.timing = q("[data-role=timing]");
    this.notice = q("[data-role=notice]");
    this.errors = q("[data-role=errors]");
    this.submit = q("[data-role=submit]");
    this.preview = q("[data-role=preview]");
    this.previewBox = q("[data-role=preview-entry]");
    this.previewButton = q("[data-action=preview]");
    this.extraLabels = []; // labels other than breaking/key, kept as they are when editing
    this.submit.textContent = submitLabel;
    this.rich = new RichText(q("[data-role=rich]"), () => this.changed(), { onLink: (url) => this.pastedLink(url) });
    this.uniquifyIds();

    const cancel = q("[data-action=cancel]");
    if (onCancel) {
      cancel.hidden = false;
      cancel.addEventListener("click", () => onCancel());
    }
    this.element.addEventListener("input", (event) => {
      if (!this.rich.body.contains(event.target)) this.changed();
    });
    this.element.addEventListener("change", () => this.changed());
    this.element.addEventListener("submit", (event) => {
      event.preventDefault();
      this.trySubmit();
    });
    this.element.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.trySubmit();
      } else if (event.key === "Escape" && onCancel && this.rich.linkBar.hidden) {
        onCancel();
      }
    });
    this.previewButton.addEventListener("click", () => this.togglePreview());
    this.fields.photoUrl.addEventListener("input", () => this.checkPhotoUrl());
    this.fields.embedUrl.addEventListener("input", () => this.checkEmbedUrl());
    q("[data-action=move-to-embed]").addEventListener("click", () => this.moveToEmbed());
    this.uploaded = null; // the upload's answer (size, variants) for the photo URL it gave
    attachUpload(this);
    this.contentFields = [...this.element.querySelectorAll("[data-content]")];
    for (const input of this.contentFields) input.addEventListener("input", () => followDirection(input));
    this.applyLanguage();
  }

  /** The blog's language and direction on its text: fields, the rich text, the preview; and
   * the name of its zone beside the times typed (they are the blog's). */
  applyLanguage() {
    const zone = currentZone();
    for (const label of this.element.querySelectorAll("[data-role=when-zone]")) label.textContent = zone.name();
    for (const input of this.contentFields) {
      if (content.lang) input.lang = content.lang;
      followDirection(input);
      // The hint is in the console's language: isolated, it reads the right way round in a
      // field of the other direction ("What happened?" keeps its "?" at its end).
      if (input.placeholder) input.placeholder = isolate(input.placeholder);
    }
    this.rich.body.dataset.placeholder = isolate(this.rich.body.dataset.placeholder || "");
    for (const node of [this.rich.body, this.previewBox]) {
      if (content.lang) node.lang = content.lang;
      node.dir = content.dir;
    }
  }

  /** A web address pasted into the text: a post or video of a provider becomes the embed. */
  pastedLink(url) {
    const found = recognise(url);
    if (!found || this.fields.embedUrl.value.trim()) return false;
    this.fields.embedUrl.value = url;
    this.embed.open = true;
    this.checkEmbedUrl();
    this.changed();
    return true;
  }

  /** The photo field takes pictures: a provider's page is refused, with what to do instead. */
  checkPhotoUrl() {
    const url = this.fields.photoUrl.value.trim();
    const site = url ? providerSite(url) : null;
    this.photoRefusal.hidden = !site;
    if (site) {
      const found = recognise(url);
      const text = found
        ? found.kind === "video"
          ? t("That is a video on %(site)s, not a picture. Put it under “Video or post”: readers then see a card and choose to load it.", { site })
          : t("That is a post on %(site)s, not a picture. Put it under “Video or post”: readers then see a card and choose to load it.", { site })
        : t("That is a page on %(site)s, not a picture. For a post or video, put its link under “Video or post”; for a photo, use the picture's own address or upload it.", { site });
      this.photoRefusal.querySelector("[data-role=photo-refusal-text]").textContent = text;
      this.photoRefusal.querySelector("[data-action=move-to-embed]").hidden = !recognise(url) || Boolean(this.fields.embedUrl.value.trim());
    }
    return !site;
  }

  moveToEmbed() {
    this.fields.embedUrl.value = this.fields.photoUrl.value.trim();
    this.fields.photoUrl.value = "";
    this.checkPhotoUrl();
    this.embed.open = true;
    this.checkEmbedUrl();
    this.fields.embedCaption.focus();
    this.changed();
  }

  /** Say which provider a link is (and that readers choose to load it), or what is wrong. */
  checkEmbedUrl() {
    const url = this.fields.embedUrl.value.trim();
    const found = url ? recognise(url) : null;
    this.embedStatus.dataset.state = !url ? "" : found ? "ok" : "bad";
    if (!url) this.embedStatus.textContent = "";
    else if (found) {
      const values = { provider: found.name };
      this.embedStatus.textContent = found.kind === "video"
        ? t("A %(provider)s video: readers see a card and load it only if they choose to.", values)
        : t("A %(provider)s post: readers see a card and load it only if they choose to.", values);
    } else {
      const providers = providerNames(t("or"));
      this.embedStatus.textContent = t("Not a post or video link of %(providers)s. Copy the link of one post or video (its Share button).", { providers });
    }
    return !url || Boolean(found);
  }

  /** A photo the server stored (upload.js): its URL, with the size and variants for readers. */
  setUploaded(photo) {
    this.uploaded = photo;
    this.fields.photoUrl.value = photo.url;
    this.photo.open = true;
    this.changed();
  }

  /** Labels point at inputs by id; each clone of the template gets its own. */
  uniquifyIds() {
    const suffix = Math.random().toString(36).slice(2, 8);
    for (const node of this.element.querySelectorAll("[id]")) {
      const old = node.id;
      node.id = `${old}-${suffix}`;
      for (const ref of this.element.querySelectorAll(`[for="${old}"]`)) ref.htmlFor = node.id;
      for (const ref of this.element.querySelectorAll(`[aria-labelledby="${old}"]`)) {
        ref.setAttribute("aria-labelledby", node.id);
      }
    }
  }

  changed() {
    this.element.dataset.dirty = "true";
    if (!this.preview.hidden) this.renderPreview();
    this.onChange(this.values());
  }

  /** Everything the editor entered, in API field names. */
  values() {
    const f = this.fields;
    const labels = [...this.extraLabels];
    if (f.breaking.checked) labels.unshift("breaking");
    if (f.key.checked) labels.push("key");
    const url = f.photoUrl.value.trim();
    const photo = url
      ? { url, caption: f.caption.value.trim() || null, credit: f.credit.value.trim() || null, alt: f.alt.value.trim() || null }
      : null;
    if (photo && f.decorative?.checked) photo.decorative = true;
    if (photo && this.uploaded?.url === url) {
      const { width, height, variants } = this.uploaded;
      Object.assign(photo, { width, height, variants });
    }
    const embedUrl = f.embedUrl.value.trim();
    const embed = embedUrl ? { type: "embed", url: embedUrl, caption: f.embedCaption.value.trim() || null } : null;
    const media = [photo, embed, ...this.extraMedia].filter(Boolean);
    const when = f.publishedAt.value;
    let publishedAt = "";
    if (when && when === this.filledWhen.input) publishedAt = this.filledWhen.iso;
    else if (when) publishedAt = fromZoneInput(when); // typed on the blog's clock
    return {
      headline: f.headline.value.trim(),
      body: this.rich.html,
      labels,
      pinned: f.pinned.checked,
      author: f.author.value.trim(),
      published_at: publishedAt,
      media,
      status: f.status.value,
      publish_at: fromZoneInput(f.publishAt.value),
      correction: f.correction.value.trim(),
    };
  }

  /** A contributor's entries wait for an editor: no choice of when, and the button says so. */
  setRole(role) {
    this.role = role;
    this.when.hidden = role === "contributor" || this.editing;
    if (role === "contributor") this.fields.status.value = "published";
    this.statusChanged();
  }

  /** Editing: a published entry may carry a correction; a scheduled one may be moved. */
  setEditing(entry) {
    this.when.hidden = true;
    this.correctionField.hidden = entry.status !== "published";
    this.publishAtField.hidden = entry.status !== "scheduled";
    if (entry.status === "scheduled") {
      this.when.hidden = false;
      this.fields.status.closest(".nr-field").hidden = true;
    }
  }

  statusChanged() {
    const status = this.fields.status.value;
    if (!this.editing) this.publishAtField.hidden = status !== "scheduled";
    const labels = { published: this.submitLabel, draft: t("Save draft"), scheduled: t("Schedule") };
    this.submit.textContent = this.role === "contributor" && !this.editing ? t("Submit for review") : labels[status] || this.submitLabel;
  }

  /** Fill from an entry (API shape) or a draft; missing fields are emptied. */
  fill(values) {
    const v = { ...emptyValues(), ...values };
    const f = this.fields;
    f.headline.value = v.headline || "";
    this.rich.html = v.body || "";
    const labels = v.labels || [];
    f.breaking.checked = labels.includes("breaking");
    f.key.checked = labels.includes("key");
    this.extraLabels = labels.filter((l) => l !== "breaking" && l !== "key");
    f.pinned.checked = Boolean(v.pinned);
    f.author.value = v.author || "";
    f.publishedAt.value = toZoneInput(v.published_at);
    this.filledWhen = { input: f.publishedAt.value, iso: v.published_at || "" };
    const items = mediaList(v.media);
    const media = items.find((m) => (m.type || "image") === "image") || null;
    const embed = items.find((m) => m.type === "embed") || null;
    this.extraMedia = items.filter((m) => m !== media && m !== embed);
    f.photoUrl.value = media?.url || "";
    f.caption.value = media?.caption || "";
    f.credit.value = media?.credit || "";
    f.alt.value = media?.alt || "";
    if (f.decorative) f.decorative.checked = Boolean(media?.decorative);
    // An uploaded photo keeps its size and variants through drafts and edits.
    this.uploaded = media?.width ? { url: media.url, width: media.width, height: media.height, variants: media.variants || [] } : null;
    f.embedUrl.value = embed?.url || "";
    f.embedCaption.value = embed?.caption || "";
    this.checkPhotoUrl();
    this.checkEmbedUrl();
    this.embed.open = Boolean(embed);
    f.status.value = this.role === "contributor" || !["published", "draft", "scheduled"].includes(v.status) ? "published" : v.status;
    f.publishAt.value = toZoneInput(v.publish_at);
    f.correction.value = "";
    this.statusChanged();
    this.photo.open = Boolean(media?.url);
    this.timing.open = Boolean(v.published_at) && !this.editing; // a backdated draft
    for (const input of this.contentFields) followDirection(input);
    delete this.element.dataset.dirty;
    this.showErrors([]);
    if (!this.preview.hidden) this.renderPreview();
  }

  clear({ keepAuthor = true } = {}) {
    const author = this.fields.author.value;
    this.fill({});
    if (keepAuthor) this.fields.author.value = author;
    this.setPreview(false);
  }

  get isEmpty() {
    const v = this.values();
    return !v.headline && this.rich.empty && !v.media.length;
  }

  /** The request body for POST: only what is set, in API types. */
  payload() {
    const v = this.values();
    const body = { body: v.body, labels: v.labels, pinned: v.pinned };
    if (v.headline) body.headline = v.headline;
    if (v.author) body.author = v.author;
    if (v.published_at) body.published_at = v.published_at;
    body.media = v.media.map(stripNulls);
    if (this.role !== "contributor" && v.status !== "published") body.status = v.status;
    if (body.status === "scheduled") body.publish_at = v.publish_at || null;
    return body;
  }

  validate() {
    const problems = [];
    if (this.rich.empty && !this.values().media.length) problems.push(t("Write something, or add a photo, a video or a post."));
    const url = this.fields.photoUrl.value.trim();
    if (!this.checkPhotoUrl()) {
      problems.push(this.photoRefusal.querySelector("[data-role=photo-refusal-text]").textContent);
      this.photo.open = true;
    } else if (url && !/^https:\/\/[^\s/?#]+\S*$/.test(url) && !/^\/media\/\S+$/.test(url)) {
      problems.push(t("The photo URL must start with https:// (or be an uploaded photo's /media/ address)"));
      this.photo.open = true;
    }
    if (url && !providerSite(url) && !this.fields.alt.value.trim() && !this.fields.decorative?.checked) {
      problems.push(t("Describe the photo in Alt text, or mark it decorative."));
      this.photo.open = true;
    }
    if (this.element.dataset.uploading) problems.push(t("Wait for the photo to finish uploading."));
    if (!this.checkEmbedUrl()) {
      problems.push(this.embedStatus.textContent);
      this.embed.open = true;
    }
    this.showErrors(problems);
    return problems.length === 0;
  }

  async trySubmit() {
    if (this.busy || !this.validate()) return;
    this.busy = true;
    this.submit.disabled = true;
    try {
      await this.onSubmit(this);
    } finally {
      this.busy = false;
      this.submit.disabled = false;
    }
  }

  showErrors(messages) {
    this.errors.replaceChildren(...messages.map((m) => Object.assign(document.createElement("p"), { textContent: m })));
    this.errors.hidden = messages.length === 0;
  }

  showNotice(text) {
    this.notice.textContent = text || "";
    this.notice.hidden = !text;
  }

  togglePreview() {
    this.setPreview(this.preview.hidden);
  }

  setPreview(on) {
    this.preview.hidden = !on;
    this.previewButton.setAttribute("aria-pressed", String(on));
    if (on) this.renderPreview();
  }

  /** The entry as readers will see it, drawn by the reader page's own renderer. */
  renderPreview(base = {}) {
    const v = this.values();
    const entry = {
      id: base.id || "preview",
      blog: base.blog || "",
      version: base.version || 1,
      published_at: v.published_at || base.published_at || new Date().toISOString(),
      updated_at: base.id ? new Date().toISOString() : null,
      headline: v.headline || null,
      body: v.body,
      author: v.author || null,
      labels: v.labels,
      pinned: v.pinned,
      media: renderable(v.media),
    };
    const node = renderEntry(entry);
    node.removeAttribute("id");
    node.querySelector(".entry__permalink")?.removeAttribute("href");
    this.previewBox.replaceChildren(node);
  }

  focus() {
    (this.fields.headline.value ? this.rich : this.fields.headline).focus();
  }
}

function stripNulls(object) {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== null && value !== ""));
}
