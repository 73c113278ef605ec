// The notifier socket: auth, a sprint subscription, gap-free resume after reconnects, and back-off.

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;
const JITTER = 0.5; // each reconnect waits 75–125 % of the back-off delay
const READY_TIMEOUT_MS = 3000;
const SILENCE_MS = 45000; // the notifier sends a heartbeat after 20 s without traffic
const UNAUTHORIZED = 4401;

/**
 * The socket's URL with the routing hint of spec §4, `tenant=<tenant_id>`: a gateway hashes it to pick a notifier,
 * so one tenant's sockets tend to share an instance (and its interests). Only a hint: the token decides the tenant.
 */
export function socketUrl(base, tenantId) {
  const url = new URL(base);
  if (tenantId) url.searchParams.set("tenant", tenantId);
  return url.href;
}

export class LiveFeed {
  /**
   * handlers: onEvents(events), onState("connecting" | "live" | "reconnecting"),
   * onSubscribed({ resumed }), onResync(), onUnauthorized(). Frames, and the events handed on, stay the
   * wire's snake_case JSON: the casing the whole board reads.
   */
  constructor({ url, token, sprintId, ...handlers }) {
    this.url = url;
    this.token = token;
    this.sprintId = sprintId.toLowerCase(); // events carry canonical lowercase UUIDs
    this.handlers = handlers;
    this.socket = null;
    this.epoch = null;
    this.lastSeq = null;
    this.delay = FIRST_DELAY_MS;
    this.timer = null;
    this.stopped = false;
  }

  /** Connects; resolves once subscribed, or when the first attempt fails or takes too long. */
  start() {
    return new Promise((resolve) => {
      this.settleFirst = resolve;
      setTimeout(() => this.#firstSettled(), READY_TIMEOUT_MS);
      this.#connect("connecting");
    });
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.silence);
    if (this.socket) this.socket.close(1000, "page closed");
  }

  #firstSettled() {
    if (this.settleFirst) {
      this.settleFirst();
      this.settleFirst = null;
    }
  }

  #connect(state) {
    this.handlers.onState(state);
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch {
      this.#scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.#watch(); // also bounds a connection attempt that never answers
    socket.addEventListener("open", () => {
      this.#send({ type: "auth", token: this.token });
    });
    socket.addEventListener("message", (message) => {
      this.#watch();
      this.#receive(message.data);
    });
    socket.addEventListener("close", (event) => this.#closed(socket, event.code));
  }

  #send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  /** A connection that went quiet may be dead without a close (a lost network): drop it and reconnect. */
  #watch() {
    clearTimeout(this.silence);
    this.silence = setTimeout(() => {
      const socket = this.socket;
      if (!socket) return;
      this.socket = null;
      socket.close(4000, "no heartbeat");
      this.#scheduleReconnect();
    }, SILENCE_MS);
  }

  #closed(socket, code) {
    if (socket !== this.socket) return;
    this.socket = null;
    clearTimeout(this.silence);
    this.#firstSettled();
    if (this.stopped) return;
    if (code === UNAUTHORIZED) {
      this.handlers.onUnauthorized();
      return;
    }
    this.#scheduleReconnect();
  }

  #scheduleReconnect() {
    this.handlers.onState("reconnecting");
    // Jittered (half the delay fixed, half random): when a notifier dies, every board it held reconnects
    // at the same moment, and without jitter they would all land on the next instance together.
    const delay = this.delay * (1 - JITTER / 2 + Math.random() * JITTER);
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.#connect("reconnecting"), delay);
  }

  #receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    switch (frame.type) {
      case "welcome":
        this.#subscribe(frame);
        break;
      case "subscribed":
        this.delay = FIRST_DELAY_MS;
        this.handlers.onState("live");
        this.handlers.onSubscribed({ resumed: this.resuming });
        this.#firstSettled();
        break;
      case "batch":
        this.#events(Array.isArray(frame.events) ? frame.events : []);
        break;
      case "resync_required":
        this.#adopt(frame.seq, frame.epoch);
        this.handlers.onResync();
        break;
      case "error":
        console.warn("notifier refused a frame:", frame.code, frame.message);
        break;
      case "heartbeat":
      case "pong":
      case "token_refreshed":
      case "options":
      case "unsubscribed":
        break;
      default:
        if (frame.task_id) this.#events([frame]);
    }
  }

  #subscribe(welcome) {
    const subscribe = { type: "subscribe", sprint_id: this.sprintId, batch: true };
    this.resuming = this.epoch !== null && this.lastSeq !== null;
    if (this.resuming) {
      subscribe.resume_from = { seq: this.lastSeq, epoch: this.epoch };
    } else {
      // Until it subscribes the socket gets every event of the tenant, so from here on nothing is missed.
      this.#adopt(welcome.seq, welcome.epoch);
    }
    this.#send(subscribe);
  }

  #adopt(seq, epoch) {
    if (typeof seq === "number") this.lastSeq = seq;
    if (typeof epoch === "string") this.epoch = epoch;
  }

  #events(frames) {
    const events = [];
    let newEpoch = false;
    for (const event of frames) {
      if (typeof event.seq === "number") {
        if (this.epoch !== null && event.epoch && event.epoch !== this.epoch) {
          newEpoch = true;
          this.#adopt(event.seq, event.epoch);
        } else if (this.lastSeq === null || event.seq > this.lastSeq) {
          this.#adopt(event.seq, event.epoch);
        }
      }
      // An unsubscribed moment (before `subscribed`) brings the whole tenant: keep this sprint's only.
      if (event.sprint_id === this.sprintId) events.push(event);
    }
    if (events.length) this.handlers.onEvents(events);
    if (newEpoch) this.handlers.onResync();
  }
}
