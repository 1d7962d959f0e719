// commentwatch dashboard: alerts — a sound, a desktop notification or the
// comment read aloud when a highlighted word or a new author appears, as
// the Alerts panel's checkboxes say; rate-limited so a flood is no siren.
//
// Must not touch the feed or the model: it is handed each live entry that
// passed the filters. A notification's text is the comment's plain text.
import { t } from "./i18n.js";
import { settings, save, bindCheck, isHidden } from "./settings.js";
import { select } from "./reading.js";
import { toast } from "./toast.js";

let lastSound = 0;
let lastNotify = 0;
let audio = null;
/** Alerts for a live entry, if the settings ask for it. */
export function alertFor(e, newAuthor) {
  // Hidden words and authors are never alerted on nor read aloud.
  if (isHidden(e.c)) return;
  const why = e.hl && settings.alHighlight ? "hl" : newAuthor && settings.alAuthor ? "author" : null;
  if (!why) return;
  const now = Date.now();
  // A flood must not become a siren: at most one sound per 1.5 s and one
  // notification per 5 s; reading aloud keeps at most two in the queue.
  if (settings.alSound && now - lastSound > 1500) {
    lastSound = now;
    beep(why === "hl" ? 880 : 660);
  }
  if (settings.alNotify && now - lastNotify > 5000 && "Notification" in window && Notification.permission === "granted") {
    lastNotify = now;
    const name = (e.c.author && e.c.author.name) || t("noName");
    try {
      const n = new Notification(t(why === "hl" ? "notifyHighlight" : "notifyAuthor") + " · " + name, {
        body: Array.from(e.c.text || "").slice(0, 160).join(""),
        tag: "commentwatch",
        silent: true,
      });
      n.addEventListener("click", () => {
        window.focus();
        if (e.node) select(e, true);
      });
    } catch (_) {
      /* some browsers only notify from a service worker */
    }
  }
  if (settings.alSpeak && why === "hl" && "speechSynthesis" in window) speak(e.c);
}
function beep(freq) {
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.2, audio.currentTime + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.35);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.4);
  } catch (_) {
    /* no audio output */
  }
}
let speaking = 0;
function speak(c) {
  if (speaking >= 2 || isHidden(c)) return;
  const text = Array.from(((c.author && c.author.name) || "") + ": " + (c.text || "")).slice(0, 300).join("");
  const u = new SpeechSynthesisUtterance(text);
  // The voice follows the script of the comment, not the page's language.
  if (/[\u3040-\u30ff]/.test(text)) u.lang = "ja-JP";
  else if (/[\uac00-\ud7af]/.test(text)) u.lang = "ko-KR";
  else if (/[\u4e00-\u9fff]/.test(text)) u.lang = "zh-CN";
  speaking += 1;
  const done = () => (speaking = Math.max(0, speaking - 1));
  u.addEventListener("end", done);
  // Hidden while it waited in the queue: not a word of it.
  u.addEventListener("start", () => isHidden(c) && speechSynthesis.cancel());
  u.addEventListener("error", done);
  speechSynthesis.speak(u);
}
bindCheck("al-highlight", "alHighlight");
bindCheck("al-author", "alAuthor");
bindCheck("al-sound", "alSound", (box) => box.checked && beep(880));
bindCheck("al-notify", "alNotify", async (box) => {
  if (!box.checked || !("Notification" in window)) return;
  if (Notification.permission === "default") await Notification.requestPermission();
  if (Notification.permission !== "granted") {
    box.checked = false;
    settings.alNotify = false;
    save();
    toast(t("notifyDenied"));
  }
});
bindCheck("al-speak", "alSpeak");
