// commentwatch dashboard: hiding — the Highlight and Hidden panels: words
// to highlight (this browser's), words and authors to hide (the server's
// list, shared by every dashboard, the overlay and read-aloud: each change
// goes through /api/hidden, with Undo), and hiding the selected comment's
// author (H). A change of either list rebuilds the feed; a `hidden` frame
// (any dashboard's change) arrives through `applyHidden`.
//
// Must not touch any element outside those two panels but through
// `rebuild`, `toast` and `silenceHidden` (read-aloud stops a hidden word); the network only through `api` on /api/hidden.
// Words are shown with textContent.
import { t, translate } from "./i18n.js";
import { server, settings, save, effective, computeLists, addHighlight, removeHighlight, hiddenEntries, setHidden } from "./settings.js";
import { api } from "./connection.js";
import { rebuild } from "./feed.js";
import { toast, hideToast } from "./toast.js";
import { silenceHidden } from "./alerts.js";

const $ = (id) => document.getElementById(id);
const chipTemplate = $("chip-template");

let lastHidden = null;
/** The server's hidden list changed (a frame, or the answer to a change). */
export function applyHidden(words, authors) {
  if (!setHidden(words, authors)) return;
  silenceHidden();
  renderChips();
  rebuild();
}
/** Hides (`on`) or unhides `entry` on the server; whether it worked. */
async function change(on, entry) {
  try {
    const list = await api(on ? "POST" : "DELETE", "/api/hidden", { entry });
    if (list) applyHidden(list.words, list.authors);
    return true;
  } catch (err) {
    toast(t("hideFailed") + err.message);
    return false;
  }
}
/** Hides `entry` and offers to undo it. */
async function hide(entry) {
  if (!(await change(true, entry))) return;
  lastHidden = entry;
  toast(t("hiddenToast", entry.startsWith("author:") ? entry.slice(7) : entry), () => undoHide());
}
export function hideAuthor(e) {
  if (!e) return;
  const name = (e.c.author && e.c.author.name) || "";
  if (!name) return;
  hide("author:" + name);
}
export async function undoHide() {
  if (!lastHidden) return;
  const entry = lastHidden;
  lastHidden = null;
  hideToast();
  await change(false, entry);
}
function listsChanged() {
  computeLists();
  renderChips();
  rebuild();
}
/** Draws both lists as chips. */
export function renderChips() {
  const chips = (ul, words, kind) => {
    ul.replaceChildren(
      ...words.map((w) => {
        const li = chipTemplate.content.firstElementChild.cloneNode(true);
        translate(li);
        li.querySelector(".chip-text").textContent = w;
        li.dataset.word = w;
        li.dataset.kind = kind;
        return li;
      }),
    );
  };
  chips($("hl-list"), effective(server.highlight, settings.hlAdded, settings.hlRemoved), "hl");
  chips($("block-list"), hiddenEntries(), "block");
}
for (const id of ["hl-list", "block-list"]) {
  $(id).addEventListener("click", async (ev) => {
    const x = ev.target.closest(".chip-x");
    if (!x) return;
    const li = x.closest("li.chip");
    const word = li.dataset.word;
    if (li.dataset.kind === "hl") {
      removeHighlight(word);
      listsChanged();
      return;
    }
    lastHidden = null;
    if (!(await change(false, word))) return;
    // Unhiding can be undone too: hide it again.
    toast(t("remove") + ": " + word, async () => {
      hideToast();
      await change(true, word);
    });
  });
}
$("hl-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = $("hl-input");
  addHighlight(input.value);
  input.value = "";
  listsChanged();
});
$("block-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = $("block-input");
  const word = input.value.trim();
  if (!word) return;
  input.value = "";
  hide(word);
});

// What older versions hid in this browser only goes to the server once:
// hidden for every page now, and no longer kept here.
export async function moveLocalHidden() {
  const added = settings.blockAdded.slice();
  const removed = settings.blockRemoved.slice();
  if (!added.length && !removed.length) return;
  for (const w of added) if (!(await change(true, w))) return;
  for (const w of removed) if (!(await change(false, w))) return;
  settings.blockAdded = [];
  settings.blockRemoved = [];
  save();
}
