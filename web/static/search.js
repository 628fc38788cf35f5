// The reader's search results (liveblog/pages/search.py render them, complete without a
// script): embeds load on a click, as on the live page. Results follow no live stream.

import { enableEmbeds, onEmbedClick } from "./reader/media.js";

enableEmbeds(document);
document.addEventListener("click", onEmbedClick);
