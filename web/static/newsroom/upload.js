// Photo upload in the entry form: drop a picture on the form, paste one, or choose a file. It is
// sent to POST /api/blogs/{slug}/media with a progress bar; the answer (URL, size, variants)
// becomes the entry's photo, and the editor is asked for alt text (or to mark it decorative).

import { token } from "./api.js";
import { t } from "./i18n.js";

const TYPES = ["image/jpeg", "image/png", "image/webp", "image/gif"];
const MAX_BYTES = 20 * 1024 * 1024; // the API's limit (docs/api.md, Media)
// The server answers 503 with Retry-After when every upload slot of its host is busy: the
// console waits what it says and sends the photo again, this many times at most.
const MAX_TRIES = 6;

/** A refused upload: the status, and the seconds the server asked to wait (Retry-After). */
class UploadError extends Error {
  constructor(message, status = 0, retryAfter = null) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** The blog being edited: the console keeps it in the address (?blog=slug) for every form. */
function currentSlug() {
  return new URL(window.location.href).searchParams.get("blog");
}

function imageOf(items) {
  return [...(items || [])].find((file) => file.kind !== "string" && TYPES.includes(file.type));
}

/** Send `file` with progress; resolves to the API's answer, rejects with a message. */
function send(file, slug, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest(); // fetch() reports no upload progress
    request.open("POST", `/api/blogs/${encodeURIComponent(slug)}/media`);
    request.setRequestHeader("Authorization", `Bearer ${token.get()}`);
    request.setRequestHeader("Content-Type", file.type);
    request.setRequestHeader("Accept", "application/json");
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => {
      let data = null;
      try {
        data = JSON.parse(request.responseText);
      } catch {
        data = null;
      }
      if (request.status === 201 && data) {
        resolve(data);
        return;
      }
      const wait = Number(request.getResponseHeader("Retry-After"));
      const message = data?.detail || t("The upload failed (HTTP %(status)s).", { status: request.status });
      reject(new UploadError(message, request.status, Number.isFinite(wait) && wait > 0 ? wait : null));
    };
    request.onerror = () => reject(new UploadError(t("The server cannot be reached. Try again.")));
    request.send(file);
  });
}

/** Wire the upload into an EntryForm (form.js): its photo fields get what the server made. */
export function attachUpload(form) {
  const root = form.element;
  const q = (selector) => root.querySelector(selector);
  const drop = q("[data-role=drop]");
  // A file chosen, or a photo taken with the phone's camera (capture: the camera opens at once).
  const inputs = [q("[name=photo_file]"), q("[name=photo_camera]")].filter(Boolean);
  const progress = q("[data-role=upload-progress]");
  const status = q("[data-role=upload-status]");
  if (!drop || !inputs.length) return;
  let latest = 0; // the upload on screen: a newer one (another photo) takes over

  /** Send, and while the host's upload slots are busy (503), wait what the server asks and
   * send again, saying so. */
  async function sendPatiently(file, slug, mine) {
    for (let tries = 1; ; tries += 1) {
      try {
        return await send(file, slug, (share) => {
          progress.value = Math.round(share * 100);
        });
      } catch (error) {
        const busy = error.status === 503 && error.retryAfter && tries < MAX_TRIES;
        if (!busy || mine !== latest) throw error;
        root.dataset.uploadRetry = String(tries);
        status.textContent = t("Too many photos are being uploaded right now: trying again in %(seconds)s s.", { seconds: error.retryAfter });
        progress.value = 0;
        await new Promise((resolve) => setTimeout(resolve, error.retryAfter * 1000));
        if (mine !== latest) throw error;
        status.textContent = file.name ? t("Uploading %(name)s…", { name: file.name }) : t("Uploading the picture…");
      }
    }
  }

  async function upload(file) {
    const slug = currentSlug();
    if (!slug) return;
    if (!TYPES.includes(file.type)) {
      status.textContent = t("Only JPEG, PNG, WebP or GIF pictures can be uploaded.");
      return;
    }
    if (file.size > MAX_BYTES) {
      status.textContent = t("That picture is over 20 MB: make it smaller first.");
      return;
    }
    form.photo.open = true;
    progress.hidden = false;
    progress.value = 0;
    status.textContent = file.name ? t("Uploading %(name)s…", { name: file.name }) : t("Uploading the picture…");
    root.dataset.uploading = "true";
    latest += 1;
    const mine = latest;
    try {
      const photo = await sendPatiently(file, slug, mine);
      if (mine !== latest) return;
      form.setUploaded(photo);
      status.textContent = t("Uploaded (%(width)s × %(height)s). Describe it in Alt text, or mark it decorative.", { width: photo.width, height: photo.height });
      form.fields.alt.focus();
    } catch (error) {
      if (mine === latest) status.textContent = error.message;
    } finally {
      if (mine === latest) {
        progress.hidden = true;
        delete root.dataset.uploading;
        delete root.dataset.uploadRetry;
      }
    }
  }

  for (const input of inputs) {
    input.addEventListener("change", () => {
      if (input.files[0]) upload(input.files[0]);
      input.value = ""; // choosing the same file again uploads again
    });
  }
  root.addEventListener("dragover", (event) => {
    if (![...event.dataTransfer.types].includes("Files")) return;
    event.preventDefault(); // allows the drop
    drop.dataset.over = "true";
  });
  root.addEventListener("dragleave", (event) => {
    if (!root.contains(event.relatedTarget)) delete drop.dataset.over;
  });
  root.addEventListener("drop", (event) => {
    const file = imageOf(event.dataTransfer.files);
    delete drop.dataset.over;
    if (!file) return;
    event.preventDefault(); // not opened by the browser, not dropped into the text
    upload(file);
  });
  root.addEventListener("paste", (event) => {
    const item = imageOf(event.clipboardData?.items);
    const file = item?.getAsFile();
    if (!file) return; // text pastes go to the rich text as before
    event.preventDefault();
    upload(file);
  });
}
