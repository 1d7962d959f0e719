// commentwatch: connection — how a page talks to its server, shared by the
// dashboard and the overlay: one WebSocket feed that reconnects on its own
// (backing off with jitter) and resumes with `?since=` the last seq it
// applied, so nothing is missed or shown twice; and `api`, a JSON fetch.
//
// The feed keeps the protocol's bookkeeping (seq order, which log the seqs
// belong to) and hands every frame it accepts to the page. Must not touch
// the DOM, settings or anything a frame carries: pages decide what a frame
// means; this file only decides whether it is new.

/**
 * Opens the feed at `path` and keeps it open. Options:
 * - `params()`: extra query parameters (a URLSearchParams) for each connect;
 * - `resume()`: whether to ask for `since` (default: always);
 * - `resetBackoffOnOpen`: a feed that sends no `hello` (the overlay's
 *   featured queue) counts a connection as good once it opens;
 * - `onFrame(frame)`: a `hello`, `status`, `featured`, or a `comment`,
 *   `update` or `delete` whose seq is newer than any before;
 * - `onReset()`: the server now keeps another log; forget every comment;
 * - `onConnecting(retrying)`, `onOffline()`: for a connection indicator.
 */
export function openFeed(opts) {
  let socket = null;
  let retries = 0;
  let lastSeq = 0; // highest seq applied; frames at or below it are dropped
  let logId = null; // which log the seqs belong to

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const q = opts.params ? opts.params() : new URLSearchParams();
    // Several frames written at once arrive as one message (a JSON array):
    // one message event for a poll's batch instead of one per comment.
    q.set("batch", "1");
    if (lastSeq > 0 && (!opts.resume || opts.resume())) q.set("since", String(lastSeq));
    const query = q.toString();
    if (opts.onConnecting) opts.onConnecting(retries > 0);
    const ws = new WebSocket(proto + "//" + location.host + opts.path + (query ? "?" + query : ""));
    socket = ws;
    // Frames from a socket we have given up on are ignored.
    ws.addEventListener("message", (ev) => {
      if (ws !== socket) return;
      let data;
      try {
        data = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      if (!Array.isArray(data)) {
        handle(data);
        return;
      }
      for (const frame of data) {
        // A `hello` may have replaced the socket mid-array: stop there.
        if (ws !== socket) return;
        if (frame && typeof frame === "object") handle(frame);
      }
    });
    ws.addEventListener("open", () => {
      if (opts.resetBackoffOnOpen) retries = 0;
    });
    ws.addEventListener("close", () => {
      if (ws !== socket) return;
      socket = null;
      if (opts.onOffline) opts.onOffline();
      // Back off 0.5 s, 1 s, 2 s … up to 15 s, with jitter so a restarted
      // server is not hit by every page in the same instant.
      const delay = Math.min(15000, 500 * 2 ** retries) * (0.75 + Math.random() * 0.5);
      retries = Math.min(retries + 1, 10);
      setTimeout(connect, delay);
    });
  }

  function handle(frame) {
    switch (frame.type) {
      case "hello":
        retries = 0;
        if ((logId && frame.log_id !== logId) || frame.latest_seq < lastSeq) {
          // The server now keeps another log: our seq means nothing there.
          // Start over from its recent comments.
          lastSeq = 0;
          opts.onReset();
          logId = frame.log_id;
          const stale = socket;
          socket = null;
          stale.close();
          connect();
          return;
        }
        logId = frame.log_id;
        break;
      case "comment":
      case "update":
      case "delete":
        if (typeof frame.seq !== "number" || frame.seq <= lastSeq) return;
        lastSeq = frame.seq;
        break;
    }
    opts.onFrame(frame);
  }

  connect();
}

/** A JSON request to this server; throws with the server's `error` text. */
export async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  let data = null;
  try {
    data = await resp.json();
  } catch (_) {
    data = null;
  }
  if (!resp.ok) throw new Error((data && data.error) || resp.status + " " + resp.statusText);
  return data;
}
