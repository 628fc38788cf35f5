/*
 * liveblog embed loader, served at /embed.js. On any site:
 *
 *   <div data-liveblog="my-blog-slug"></div>
 *   <script src="https://live.example.com/embed.js" async></script>
 *
 * Each placeholder becomes an iframe of /blogs/<slug>/embed that grows and shrinks with its
 * content: the frame posts its height, and only messages from our frames are believed.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) return;
  var origin = new URL(script.src).origin;
  var frames = [];

  function insert(holder) {
    if (holder.getAttribute("data-liveblog-ready")) return;
    var slug = holder.getAttribute("data-liveblog");
    if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(slug || "")) return;
    holder.setAttribute("data-liveblog-ready", "1");
    var frame = document.createElement("iframe");
    frame.src = origin + "/blogs/" + slug + "/embed";
    frame.title = holder.getAttribute("data-title") || "Live blog";
    frame.loading = "lazy";
    frame.setAttribute("scrolling", "no");
    // An entry's Share inside the frame: the share sheet, else the clipboard (both need leave).
    frame.setAttribute("allow", "clipboard-write; web-share");
    frame.style.cssText = "display:block;width:100%;height:480px;border:0;overflow:hidden;";
    holder.appendChild(frame);
    frames.push(frame);
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== origin || !event.data || event.data.type !== "liveblog:height") return;
    var height = Number(event.data.height);
    if (!(height > 0 && height < 100000)) return;
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].contentWindow === event.source) frames[i].style.height = Math.ceil(height) + "px";
    }
  });

  function scan() {
    var holders = document.querySelectorAll("[data-liveblog]");
    for (var i = 0; i < holders.length; i++) insert(holders[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan);
  else scan();
})();
