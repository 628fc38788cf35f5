// Photos and embed cards, the same markup the server renders (web/templates/_media.html).
// An embed's frame is created only when the reader clicks its button: before that, nothing is
// requested from the provider.

const SIZES = "(min-width: 760px) 640px, calc(100vw - 40px)";
const NAMES = { youtube: "YouTube", vimeo: "Vimeo", x: "X", bluesky: "Bluesky",
  mastodon: "Mastodon", instagram: "Instagram", tiktok: "TikTok" };
const VIDEO = new Set(["youtube", "vimeo", "tiktok"]);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const srcset = (variants) => variants.map((v) => `${v.url} ${v.width}w`).join(", ");

/** `t(message, values)`: the page's catalogue (reader.js passes it in). */
export function renderMedia(media, t) {
  return media.type === "embed" ? embedCard(media, t) : photo(media, t);
}

function photo(media, t) {
  const figure = el("figure", "entry__media");
  const picture = el("picture");
  const variants = media.variants || [];
  const webp = variants.filter((v) => v.type === "image/webp");
  const same = variants.filter((v) => v.type !== "image/webp");
  if (webp.length) {
    const source = el("source");
    Object.assign(source, { type: "image/webp", srcset: srcset(webp), sizes: SIZES });
    picture.append(source);
  }
  const img = el("img");
  img.src = media.url;
  if (same.length && media.width) {
    img.srcset = `${srcset(same)}, ${media.url} ${media.width}w`;
    img.sizes = SIZES;
  }
  if (media.width && media.height) {
    img.width = media.width;
    img.height = media.height;
  }
  img.alt = media.decorative ? "" : media.alt || "";
  img.loading = "lazy";
  img.decoding = "async";
  picture.append(img);
  figure.append(picture);
  if (media.caption || media.credit) {
    const caption = el("figcaption");
    if (media.caption) caption.append(el("span", "entry__caption", media.caption));
    if (media.credit) {
      caption.append(" ", el("span", "entry__credit", t("Photo: %(credit)s", { credit: media.credit })));
    }
    figure.append(caption);
  }
  return figure;
}

function embedCard(media, t) {
  const name = NAMES[media.provider] || "";
  const kind = VIDEO.has(media.provider) ? "video" : "post";
  const figure = el("figure", `entry__media embed-card embed-card--${media.provider}`);
  Object.assign(figure.dataset, { embed: media.embed_url, provider: name, kind });
  const frame = el("div", "embed-card__frame");
  frame.append(
    el("p", "embed-card__provider", name),
    el("p", "embed-card__note", t("The %(provider)s content loads only if you choose to, and then %(provider)s may set cookies.", { provider: name })),
  );
  const actions = el("p", "embed-card__actions");
  const load = el("button", "embed-card__load", t(kind === "video" ? "Load video" : "Load post"));
  load.type = "button";
  const link = el("a", "embed-card__link", t("Open on %(provider)s", { provider: name }));
  link.href = media.url;
  link.rel = "noopener noreferrer";
  actions.append(load, link);
  frame.append(actions);
  figure.append(frame);
  if (media.caption) {
    const caption = el("figcaption");
    caption.append(el("span", "entry__caption", media.caption));
    figure.append(caption);
  }
  return figure;
}

/** Show the load buttons (the page works without them) and load a frame on a click. */
export function enableEmbeds(root) {
  for (const button of root.querySelectorAll(".embed-card__load")) button.hidden = false;
}

export function onEmbedClick(event) {
  const button = event.target.closest(".embed-card__load");
  if (!button) return;
  const card = button.closest(".embed-card");
  const frame = document.createElement("iframe");
  frame.src = card.dataset.embed;
  frame.title = `${card.dataset.provider}: ${card.querySelector(".embed-card__link").href}`;
  frame.allow = "autoplay; encrypted-media; picture-in-picture; fullscreen";
  frame.referrerPolicy = "strict-origin-when-cross-origin";
  frame.loading = "lazy";
  card.querySelector(".embed-card__frame").replaceWith(frame);
  frame.focus();
}
