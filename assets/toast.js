// commentwatch dashboard: toast — the one short message at the foot of the
// page ("Hidden: …", "Overlay URL copied"), with an optional Undo.
//
// Must not touch anything but #toast and its children; the text is set
// with textContent.
const $ = (id) => document.getElementById(id);

let toastTimer = 0;
let toastUndo = null;
/** Shows `text`; with `undo`, an Undo button that calls it. */
export function toast(text, undo) {
  $("toast-text").textContent = text;
  toastUndo = undo || null;
  $("toast-undo").hidden = !undo;
  $("toast").hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(hideToast, undo ? 8000 : 3000);
}
export function hideToast() {
  $("toast").hidden = true;
  toastUndo = null;
}
$("toast-undo").addEventListener("click", () => toastUndo && toastUndo());
