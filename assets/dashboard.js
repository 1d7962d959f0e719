// commentwatch dashboard: the entry point of the streamer's cockpit (`/`),
// loaded as <script type="module">. It imports every part of the page —
// each module wires its own controls as it loads — then draws the page as
// the settings say and opens the /ws feed.
//
// The parts, by what they own: i18n (words), settings (stored settings and
// word lists), connection (the socket and the JSON API, shared with the
// overlay), model (what the page knows), feed (the list of comments, via
// render.js, shared with the overlay), scroll (pausing), reading (read,
// answered, selection), featured (the "On stream" queue), hiding (the
// highlight and hide lists), filters, theme, status (the status bar),
// alerts, overlay-url (the OBS URL builder), toast, keys (shortcuts and a
// comment's buttons), frames (what each frame does).
//
// Safety rule, for every one of them: a string from a comment reaches the
// page through textContent or an attribute, except `comment.html`, which
// the server's sanitizer produced and which only render.js assigns to
// innerHTML. No HTML is built from strings: elements come from the
// <template>s in dashboard.html. Must not hold state or logic of its own.
import { t } from "./i18n.js";
import { computeLists } from "./settings.js";
import { openFeed } from "./connection.js";
import { renderChips, moveLocalHidden } from "./hiding.js";
import { showFilters } from "./filters.js";
import { applyLang } from "./theme.js";
import { renderEmptyQueue } from "./featured.js";
import { renderOverlayUrl } from "./overlay-url.js";
import { setConn, drawRate } from "./status.js";
import { onFrame, clearAll, connectionLost } from "./frames.js";
import "./scroll.js";
import "./alerts.js";
import "./keys.js";
import "./account.js";
import "./moderate.js";

computeLists();
renderChips();
showFilters();
applyLang();
renderEmptyQueue();
renderOverlayUrl();
drawRate();
moveLocalHidden();
openFeed({
  path: "/ws",
  onFrame,
  onReset: clearAll,
  onConnecting: (retrying) => setConn("connecting", t(retrying ? "reconnecting" : "connecting")),
  onOffline: connectionLost,
});
