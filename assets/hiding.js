// commentwatch dashboard: hiding — the Highlight and Hidden panels: words
// to highlight, words and authors to hide (with Undo), and hiding the
// selected comment's author (H). A change of either list rebuilds the feed.
//
// Must not touch the network, or any element outside those two panels but
// through `rebuild` and `toast`. Words are shown with textContent.
import { t, translate } from "./i18n.js";
import { server, settings, effective, computeLists, addTo, removeFrom } from "./settings.js";
import { rebuild } from "./feed.js";
import { toast, hideToast } from "./toast.js";

const $ = (id) => document.getElementById(id);
const chipTemplate = $("chip-template");

let lastHidden = null;
export function hideAuthor(e) {
  if (!e) return;
  const name = (e.c.author && e.c.author.name) || "";
  if (!name) return;
  const word = "author:" + name;
  addTo("block", word);
  lastHidden = word;
  listsChanged();
  toast(t("hiddenToast", name), () => undoHide());
}
export function undoHide() {
  if (!lastHidden) return;
  removeFrom("block", lastHidden);
  lastHidden = null;
  listsChanged();
  hideToast();
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
  chips($("block-list"), effective(server.block, settings.blockAdded, settings.blockRemoved), "block");
}
for (const id of ["hl-list", "block-list"]) {
  $(id).addEventListener("click", (ev) => {
    const x = ev.target.closest(".chip-x");
    if (!x) return;
    const li = x.closest("li.chip");
    const word = li.dataset.word;
    const kind = li.dataset.kind;
    removeFrom(kind, word);
    if (kind === "block") {
      lastHidden = null;
    }
    listsChanged();
    if (kind === "hl") return;
    // Unhiding can be undone too: hide it again.
    toast(t("remove") + ": " + word, () => {
      addTo("block", word);
      listsChanged();
      hideToast();
    });
  });
}
$("hl-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = $("hl-input");
  addTo("hl", input.value);
  input.value = "";
  listsChanged();
});
$("block-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = $("block-input");
  const word = input.value.trim();
  if (!word) return;
  addTo("block", word);
  lastHidden = word;
  input.value = "";
  listsChanged();
  toast(t("hiddenToast", word), () => undoHide());
});
