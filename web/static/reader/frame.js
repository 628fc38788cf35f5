// A page inside another site's frame (the embed, an oEmbed of a blog or an entry) tells the
// host page how tall its content is, so the frame fits it: embed.js listens for ours, and
// WordPress's own embed script for its message, which carries the secret it put in the
// frame's URL (#?secret=...).

export function reportHeight() {
  if (window.parent === window) return;
  const secret = /[#&?]secret=([A-Za-z0-9]+)/.exec(window.location.hash)?.[1];
  let last = 0;
  const send = () => {
    const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    window.parent.postMessage({ type: "liveblog:height", height }, "*");
    if (secret) window.parent.postMessage({ message: "height", value: height, secret }, "*");
  };
  new ResizeObserver(send).observe(document.documentElement);
  send();
}
