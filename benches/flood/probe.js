// The page-flood benchmark's probe (benches/page_flood.rs), installed with
// Page.addScriptToEvaluateOnNewDocument so that it runs before any script
// of the page. It records, in page time (performance.now(), milliseconds):
//
// - every long task (> 50 ms) the main thread runs (PerformanceObserver
//   'longtask'), as [start, duration];
// - for each `comment` frame: its arrival, when the WebSocket's `message`
//   event reaches the first listener (the probe's, added in the socket's
//   constructor, before the page adds its own); the frame's `data` may be
//   one frame or a JSON array of frames;
// - when that comment's element (a child of #feed or #stage carrying its
//   data-source and data-id) is painted: a MutationObserver sees it
//   inserted; if that happened inside an animation-frame callback, the
//   paint follows in the same rendering update, and a task posted then runs
//   right after it; otherwise the probe waits for the next animation frame
//   and a task after it. That task's start is "painted".
//
// Nothing here grows with time: the benchmark drains the figures every few
// seconds (`__flood.take()`), and an arrival whose comment is never put on
// the page (only the newest are, of a burst on the overlay) is counted and
// forgotten after 10 s.
(() => {
  const now = () => performance.now();
  let longtasks = [];
  let latencies = [];
  let arrived = 0;
  let painted = 0;
  const waiting = new Map(); // source \0 id -> arrival

  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) longtasks.push([e.startTime, e.duration]);
    }).observe({ type: "longtask", buffered: true });
  } catch (_) {
    longtasks = null; // not supported: the benchmark says so
  }
  // Where the time of a long frame went (the Long Animation Frames API):
  // its script, its forced layouts, its rendering.
  let frames = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (e.duration <= 50) continue;
        frames.push({
          start: e.startTime,
          duration: e.duration,
          render: e.renderStart ? e.startTime + e.duration - e.renderStart : 0,
          styleAndLayout: e.styleAndLayoutStart ? e.startTime + e.duration - e.styleAndLayoutStart : 0,
          scripts: e.scripts.map((s) => ({
            invoker: s.invoker,
            fn: s.sourceFunctionName,
            url: s.sourceURL.replace(/^.*\//, ""),
            duration: s.duration,
            forcedLayout: s.forcedStyleAndLayoutDuration,
          })),
        });
      }
    }).observe({ type: "long-animation-frame", buffered: true });
  } catch (_) {
    frames = null;
  }

  const noteFrame = (f) => {
    if (f && f.type === "comment" && f.comment) {
      waiting.set(f.comment.source + "\u0000" + f.comment.id, now());
      arrived += 1;
    }
  };
  const onMessage = (ev) => {
    if (typeof ev.data !== "string" || ev.data.indexOf('"comment"') < 0) return;
    let v;
    try {
      v = JSON.parse(ev.data);
    } catch (_) {
      return;
    }
    if (Array.isArray(v)) v.forEach(noteFrame);
    else noteFrame(v);
  };
  const Native = window.WebSocket;
  class ProbedWebSocket extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", onMessage);
    }
  }
  window.WebSocket = ProbedWebSocket;

  // Inside an animation-frame callback (until the task after this frame's
  // rendering update runs), a posted task runs after the paint.
  let inFrame = false;
  const channel = new MessageChannel();
  const afterPaint = [];
  channel.port1.onmessage = () => {
    inFrame = false;
    const t = now();
    for (const k of afterPaint.splice(0)) {
      const at = waiting.get(k);
      if (at === undefined) continue;
      waiting.delete(k);
      latencies.push(t - at);
      painted += 1;
    }
  };
  const post = () => channel.port2.postMessage(0);
  const nativeRaf = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (cb) =>
    nativeRaf((t) => {
      if (!inFrame) {
        inFrame = true;
        post();
      }
      cb(t);
    });

  const seen = (records) => {
    let any = false;
    for (const r of records) {
      for (const n of r.addedNodes) {
        if (n.nodeType === 1 && n.dataset.id !== undefined) {
          afterPaint.push(n.dataset.source + "\u0000" + n.dataset.id);
          any = true;
        }
      }
    }
    if (!any || inFrame) return; // the pending post marks them
    nativeRaf(() => {
      inFrame = true;
      post();
    });
  };
  document.addEventListener("readystatechange", () => {
    if (document.readyState !== "interactive") return;
    const mo = new MutationObserver(seen);
    for (const id of ["feed", "stage"]) {
      const el = document.getElementById(id);
      if (el) mo.observe(el, { childList: true });
    }
  });

  window.__flood = {
    take() {
      const t = now();
      let dropped = 0;
      for (const [k, at] of waiting) {
        if (t - at > 10000) {
          waiting.delete(k);
          dropped += 1;
        }
      }
      const out = { now: t, longtasks, frames, latencies, arrived, painted, dropped, waiting: waiting.size };
      if (longtasks) longtasks = [];
      if (frames) frames = [];
      latencies = [];
      arrived = 0;
      painted = 0;
      return out;
    },
  };
})();
