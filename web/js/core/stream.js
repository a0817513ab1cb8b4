// The event stream: one WebSocket to /api/v1/events (docs/events.md), authenticated by the
// session cookie. It keeps the seq of the last event seen and, after any drop, reconnects with
// ?after=<seq> (backoff 0.5 s doubling to 10 s) so the server replays what was missed.
// Emits:
//   ("status", "connected" | "reconnecting")
//   ("snapshot", msg)   first message of a fresh connection: {seq, agents: [presence...]}
//   ("event", ev)       every event, in seq order (ev = {seq, ts, type, subject, actor, data})
//   ("stats", msg)      pushed live figures: {queues: [...]} or {agent: {...}}
//   ("resync")          after every reconnection: live figures are not replayed and a server
//                       whose store was reset cannot replay from our seq, so pages reload
//                       their data from the API (cheap, and always right)
//   ("unauthenticated") the session is gone (the server refused us and /auth/me says 401)
// on(type, fn) returns an unsubscribe function. Listeners' exceptions are logged, never fatal.

export class Stream {
  constructor(opts = {}) {
    this.url = opts.url || "/api/v1/events";
    this.minDelayMs = 500;
    this.maxDelayMs = 10000;
    this.delayMs = this.minDelayMs;
    this.lastSeq = null;
    this.ws = null;
    this.status = "reconnecting";
    this.listeners = new Map();
    this.stopped = true;
    this.everConnected = false;
    this.timer = null;
  }

  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type)?.delete(fn);
  }

  emit(type, arg) {
    for (const fn of [...(this.listeners.get(type) || [])]) {
      try {
        fn(arg);
      } catch (e) {
        console.warn(`stream listener for ${type} failed`, e); // eslint-disable-line no-console
      }
    }
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close();
    }
  }

  setStatus(s) {
    if (this.status === s) return;
    this.status = s;
    this.emit("status", s);
  }

  connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const after = this.lastSeq === null ? "" : `?after=${this.lastSeq}`;
    let ws;
    try {
      ws = new WebSocket(`${proto}://${location.host}${this.url}${after}`);
    } catch (_) {
      this.retry(false);
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.delayMs = this.minDelayMs;
      const resumed = this.everConnected;
      this.everConnected = true;
      this.setStatus("connected");
      if (resumed) this.emit("resync");
    };
    ws.onmessage = (m) => {
      let msg;
      try {
        msg = JSON.parse(m.data);
      } catch (_) {
        return;
      }
      if (msg.type === "snapshot") {
        this.lastSeq = msg.seq;
        this.emit("snapshot", msg);
      } else if (msg.type === "event" && msg.event) {
        if (this.lastSeq !== null && msg.event.seq <= this.lastSeq) return; // already seen
        this.lastSeq = msg.event.seq;
        this.emit("event", msg.event);
      } else if (msg.type === "stats") {
        this.emit("stats", msg);
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws || this.stopped) return;
      this.ws = null;
      this.retry(opened);
    };
  }

  async retry(wasOpen) {
    this.setStatus("reconnecting");
    if (!wasOpen) {
      // Refused before the upgrade: the server is down, or our session is gone.
      try {
        const res = await fetch("/api/v1/auth/me", { credentials: "same-origin" });
        if (res.status === 401) {
          this.stop();
          this.emit("unauthenticated");
          return;
        }
      } catch (_) { /* server down: keep trying */ }
    }
    if (this.stopped) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.maxDelayMs);
    this.timer = setTimeout(() => {
      if (!this.stopped) this.connect();
    }, delay);
  }
}
