// Links of the sites whose posts and videos the server embeds. The editor page carries the
// server's own allowlist (liveblog/editorial/embeds.py) in <script id="embed-providers">, so a link
// is recognised the moment it is pasted, offline too; the server still checks every entry.

function load() {
  const node = document.getElementById("embed-providers");
  try {
    return node ? JSON.parse(node.textContent) : null;
  } catch {
    return null;
  }
}

const data = load() || { providers: [], mastodon_hosts: [], page_hosts: [] };
const providers = data.providers.map((p) => ({ ...p, regex: new RegExp(`^(?:${p.pattern})`) }));

/** {key, name, kind} of a post or video URL the server embeds, or null. */
export function recognise(url) {
  const text = String(url || "").trim();
  for (const provider of providers) {
    const match = provider.regex.exec(text);
    if (!match) continue;
    if (provider.key === "mastodon" && !data.mastodon_hosts.includes(match.groups?.host)) continue;
    return { key: provider.key, name: provider.name, kind: provider.kind };
  }
  return null;
}

/** The provider's name when `url` is a page of one of these sites (never a picture), or null. */
export function providerSite(url) {
  let host;
  try {
    host = new URL(String(url).trim()).hostname.toLowerCase();
  } catch {
    return null;
  }
  const site = data.page_hosts.find((h) => host === h || host.endsWith(`.${h}`));
  if (!site) return null;
  return recognise(url)?.name || site;
}

/** The names, "YouTube, Vimeo, … or TikTok", for sentences that list them. */
export function providerNames(or = "or") {
  const names = data.providers.map((p) => p.name);
  return names.length > 1 ? `${names.slice(0, -1).join(", ")} ${or} ${names.at(-1)}` : names.join("");
}

/** Media as the reader's renderer draws them: an embed gets its provider (unknown: left out). */
export function renderable(media) {
  return (media || [])
    .map((m) => (m.type === "embed" ? { ...m, provider: m.provider || recognise(m.url)?.key } : m))
    .filter((m) => m.type !== "embed" || m.provider);
}
