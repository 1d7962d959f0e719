// commentwatch dashboard: alerts — what the Alerts panel asks for, in two
// groups: triggers (a highlighted word, a Super Chat or other paid message,
// a new author) and outputs (a sound, a flash of the page, a desktop
// notification, reading aloud). Paid messages trigger by default, so they
// alert as soon as any output is on. Reading aloud has its own choice of
// what it reads (what triggers, paid only, every comment) and its own
// queue: one utterance at a time, at most SPEAK_QUEUE_MAX waiting (the
// oldest dropped), never a hidden word (a comment hidden while it waits is
// skipped, one hidden while it is read is cut off).
//
// Must not touch the feed or the model: it is handed each live entry that
// passed the filters. A notification's and an utterance's text is the
// comment's plain text; the page flash is a class on #app.
import { t } from "./i18n.js";
import { settings, save, bindCheck, isHidden } from "./settings.js";
import { select } from "./reading.js";
import { toast } from "./toast.js";

const $ = (id) => document.getElementById(id);

export const SPEAK_QUEUE_MAX = 5;
const SPEAK_MODES = ["alerts", "paid", "all"];

let lastSound = 0;
let lastFlash = 0;
let lastNotify = 0;
let audio = null;

/** What triggers an alert for a comment, as the settings say, or null. */
function trigger(e, newAuthor) {
  if (e.hl && settings.alHighlight) return "hl";
  if (e.c.amount && settings.alPaid) return "paid";
  if (newAuthor && settings.alAuthor) return "author";
  return null;
}

/** Alerts for a live entry, if the settings ask for it. */
export function alertFor(e, newAuthor) {
  // Hidden words and authors are never alerted on nor read aloud.
  if (isHidden(e.c)) return;
  const why = trigger(e, newAuthor);
  if (settings.alSpeak && readsAloud(e, why)) enqueue(e);
  if (!why) return;
  const now = Date.now();
  // A flood must not become a siren: at most one sound or flash per 1.5 s
  // and one notification per 5 s.
  if (settings.alSound && now - lastSound > 1500) {
    lastSound = now;
    beep(why === "hl" ? 880 : why === "paid" ? 990 : 660);
  }
  if (settings.alFlash && now - lastFlash > 1500) {
    lastFlash = now;
    flash(why);
  }
  if (settings.alNotify && now - lastNotify > 5000 && "Notification" in window && Notification.permission === "granted") {
    lastNotify = now;
    notify(e, why);
  }
}

function notify(e, why) {
  const name = (e.c.author && e.c.author.name) || t("noName");
  const head = why === "hl" ? t("notifyHighlight") : why === "paid" ? t("notifyPaid", e.c.amount.display) : t("notifyAuthor");
  try {
    const n = new Notification(head + " · " + name, {
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

function flash(why) {
  const app = $("app");
  app.classList.remove("flash");
  // Restarts the animation when flashes follow each other.
  void app.offsetWidth;
  app.dataset.flash = why;
  app.classList.add("flash");
  setTimeout(() => app.classList.remove("flash"), 1300);
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

// ---------------------------------------------------------- read aloud
function readsAloud(e, why) {
  const mode = SPEAK_MODES.includes(settings.alSpeakMode) ? settings.alSpeakMode : "alerts";
  if (mode === "all") return true;
  if (mode === "paid") return !!e.c.amount;
  return !!why;
}
const queue = []; // entries waiting, oldest first
let current = null; // {e, u} being read
let watchdog = 0;
function enqueue(e) {
  queue.push(e);
  if (queue.length > SPEAK_QUEUE_MAX) queue.splice(0, queue.length - SPEAK_QUEUE_MAX);
  speakNext();
}
// A comment that must not be read (any more): hidden since, or deleted.
const unspeakable = (e) => !!e.c.deleted || isHidden(e.c);
function speakNext() {
  if (current || !("speechSynthesis" in window) || !settings.alSpeak) return;
  let e;
  while ((e = queue.shift()) && unspeakable(e));
  if (!e) return;
  const c = e.c;
  const name = (c.author && c.author.name) || t("noName");
  const said = c.amount ? name + " (" + c.amount.display + ")" : name;
  const text = Array.from(said + ": " + (c.text || "")).slice(0, 300).join("");
  const u = new SpeechSynthesisUtterance(text);
  // The voice follows the script of the comment, not the page's language.
  if (/[\u3040-\u30ff]/.test(text)) u.lang = "ja-JP";
  else if (/[\uac00-\ud7af]/.test(text)) u.lang = "ko-KR";
  else if (/[\u4e00-\u9fff]/.test(text)) u.lang = "zh-CN";
  const me = { e, u };
  current = me;
  const done = () => {
    if (current !== me) return;
    current = null;
    clearTimeout(watchdog);
    speakNext();
  };
  u.addEventListener("end", done);
  u.addEventListener("error", done);
  // Hidden while it waited in the browser: not a word of it.
  u.addEventListener("start", () => unspeakable(e) && speechSynthesis.cancel());
  // Some voices never say "end": move on after a generous while.
  watchdog = setTimeout(() => {
    if (current !== me) return;
    speechSynthesis.cancel();
    done();
  }, Math.min(60000, 5000 + text.length * 150));
  speechSynthesis.speak(u);
}
/** The hidden list changed: cut off what is being read if now hidden. */
export function silenceHidden() {
  for (let i = queue.length - 1; i >= 0; i--) if (unspeakable(queue[i])) queue.splice(i, 1);
  if (current && unspeakable(current.e) && "speechSynthesis" in window) {
    speechSynthesis.cancel();
    current = null;
    clearTimeout(watchdog);
    speakNext();
  }
}
function stopReading() {
  queue.length = 0;
  if (current && "speechSynthesis" in window) speechSynthesis.cancel();
  current = null;
  clearTimeout(watchdog);
}

bindCheck("al-highlight", "alHighlight");
bindCheck("al-paid", "alPaid");
bindCheck("al-author", "alAuthor");
bindCheck("al-sound", "alSound", (box) => box.checked && beep(880));
bindCheck("al-flash", "alFlash", (box) => box.checked && flash("test"));
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
bindCheck("al-speak", "alSpeak", (box) => box.checked || stopReading());
const modeSelect = $("al-speak-mode");
modeSelect.value = SPEAK_MODES.includes(settings.alSpeakMode) ? settings.alSpeakMode : "alerts";
modeSelect.addEventListener("change", () => {
  settings.alSpeakMode = modeSelect.value;
  save();
});
