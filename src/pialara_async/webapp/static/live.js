// The live feed (/api/v1/live) for the screens: one websocket per page load and
// person (closed at sign-out), topics subscribed by the screen on view. After a
// lost connection it reconnects and asks for what it missed with ``since`` (the
// last event id seen per topic); where that is no longer possible the server
// says ``reset`` and the screen refetches, as it does for a topic that had seen
// no event yet.
import { token } from "/app/api.js";

const RETRY_SECONDS = [0.25, 0.5, 1, 2, 4];
// How long a screen waits for its subscription before fetching anyway (the
// feed may be down; the page still shows, and refetches once subscribed).
const READY_WAIT_MS = 2000;

export class LiveFeed {
  constructor() {
    this.topics = new Map(); // topic -> { onEvent, onReset, lastId }
    this.socket = null;
    this.failures = 0;
    this.retry = null;
    this.status = "closed";
    this.onStatus = () => {};
  }

  // Follow ``topic``: ``onEvent(event)`` for each change, ``onReset()`` when the
  // screen must refetch. ``settled`` resolves once subscribed: a screen fetches
  // after it, once, and no change falls between its fetch and the subscription.
  follow(topic, { onEvent, onReset }) {
    const entry = { onEvent, onReset, lastId: null, waiting: true };
    const settled = new Promise((resolve) => {
      entry.settle = () => { entry.waiting = false; resolve(); };
    });
    setTimeout(entry.settle, READY_WAIT_MS);
    this.topics.set(topic, entry);
    if (this.socket?.readyState === WebSocket.OPEN) this.#subscribe(topic, entry);
    else this.#open();
    return { settled, leave: () => this.unfollow(topic) };
  }

  unfollow(topic) {
    if (!this.topics.delete(topic)) return;
    // The socket stays open for the next screen: changing screens costs no
    // new connection (connections per address have a budget).
    if (this.socket?.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ action: "unsubscribe", topic }));
    }
  }

  close() {
    clearTimeout(this.retry);
    this.retry = null;
    const socket = this.socket;
    this.socket = null;
    socket?.close();
    this.#setStatus("closed");
  }

  #setStatus(status) {
    this.status = status;
    this.onStatus(status);
  }

  #open() {
    if (this.socket || this.retry) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/live`);
    this.socket = socket;
    this.#setStatus("connecting");
    socket.addEventListener("open", () => {
      // The token in a message, not in the URL, keeps it out of access logs.
      if (token()) socket.send(JSON.stringify({ action: "auth", token: token() }));
      for (const [topic, entry] of this.topics) this.#subscribe(topic, entry);
    });
    socket.addEventListener("message", (message) => this.#receive(JSON.parse(message.data)));
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return; // closed on purpose
      this.socket = null;
      if (this.topics.size === 0) return;
      this.#setStatus("reconnecting");
      const delay = RETRY_SECONDS[Math.min(this.failures, RETRY_SECONDS.length - 1)];
      this.failures += 1;
      this.retry = setTimeout(() => { this.retry = null; this.#open(); }, delay * 1000);
    });
  }

  #subscribe(topic, entry) {
    const message = { action: "subscribe", topic };
    if (entry.lastId) message.since = entry.lastId;
    this.socket.send(JSON.stringify(message));
  }

  #receive(message) {
    const entry = this.topics.get(message.topic);
    if (!entry || message.type === "unsubscribed") return; // an earlier screen's
    if (message.type === "subscribed") {
      this.failures = 0;
      if (this.status !== "open") this.#setStatus("open");
      if (entry.waiting) entry.settle();
      // Subscribed late, or back after a cut with no event id to resume from:
      // what changed meanwhile is unknown.
      else if (!entry.lastId) entry.onReset();
      return;
    }
    if (message.type === "error" && entry.waiting) {
      entry.settle(); // refused: the screen fetches and shows what the API answers
      return;
    }
    if (message.type === "revoked" || message.type === "error") {
      entry.onReset();
      return;
    }
    if (message.op === "reset") {
      entry.lastId = null;
      entry.onReset();
      return;
    }
    if (message.id) entry.lastId = message.id;
    entry.onEvent(message);
  }
}
