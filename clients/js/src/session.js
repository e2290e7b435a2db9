// @ts-check
// The connection layer: one WebSocket at a time, the frames' seq, identity, and resuming a
// dropped session (PROTOCOL.md §8) after exactly the closes policy.js lists.
import { PROTOCOL, decodeFrame } from "./frames.js";
import { backoffDelay, isReportedClose, isResumableClose } from "./policy.js";

/** @typedef {import("./types.js").ServerMessage} ServerMessage */
/** @typedef {import("./types.js").ConnectionState} ConnectionState */

/**
 * What the session tells its owner.
 * @typedef {object} SessionHooks
 * @property {(state: ConnectionState) => void} state
 * @property {(message: ServerMessage) => void} message every server message, in order
 * @property {(frame: import("./frames.js").Frame) => void} frame every valid binary frame
 * @property {(detail: import("./types.js").ErrorEvent) => void} error
 * @property {(detail: import("./types.js").DisconnectedEvent) => void} disconnected
 * @property {() => void} ended the session is gone for good: end its turn here
 */

/**
 * @typedef {object} SessionOptions
 * @property {boolean} reconnect
 * @property {boolean} resume
 * @property {number} resumeWindowMs
 * @property {number} backoffMs
 * @property {number} maxBackoffMs
 * @property {string | null} token
 * @property {string | null} conversation
 */

/** @param {string} url */
function resolveUrl(url) {
  return new URL(url, globalThis.location && globalThis.location.href);
}

export class Session {
  /**
   * @param {string} url
   * @param {SessionOptions} options
   * @param {SessionHooks} hooks
   */
  constructor(url, options, hooks) {
    this.url = url;
    this.options = options;
    this.hooks = hooks;
    /** @type {WebSocket | null} */
    this._ws = null;
    this._closing = false;
    this._attempt = 0;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this._retryTimer = null;
    this._probing = false;
    this._lastSeq = 0; // seq of the last frame processed in this session
    // Identity and conversation, sent again on every reconnect (PROTOCOL.md §0).
    let query;
    try {
      query = resolveUrl(url).searchParams;
    } catch {
      query = new URLSearchParams();
    }
    /** @type {string | null} */
    this.token = options.token || query.get("token") || null;
    /** @type {string | null} */
    this.conversationId = options.conversation || query.get("conversation") || null;
    this._guestToken = false; // `token` came from session.ready.guest_token
    /** @type {string | null} */
    this.resumeToken = null; // session.ready.resume_token of the current session
    this._sessionOpen = false; // session.ready / session.resumed came on the current socket
    /** @type {number | null} */
    this._droppedAt = null; // Date.now() of the drop a resume is pending for
    /** @type {object | null} */
    this._pendingCancel = null; // a turn.cancel while away: sent once the session resumed
  }

  /** The WebSocket of the running session, or null (also while it reconnects). */
  get socket() {
    return this._sessionOpen ? this._ws : null;
  }

  /** The seq of the last frame processed (what a resume asks the server to continue after). */
  get lastSeq() {
    return this._lastSeq;
  }

  /** True while a dropped session waits to be resumed. */
  get resuming() {
    return this._droppedAt !== null;
  }

  /** Open the socket unless it is open or about to be. */
  open() {
    this._closing = false;
    if (!this._ws && !this._retryTimer && !this._probing) this._open();
  }

  /**
   * Close for good: no reconnect, no resume.
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code = 1000, reason = "") {
    this._closing = true;
    if (this._retryTimer !== null) clearTimeout(this._retryTimer);
    this._retryTimer = null;
    const ws = this._ws;
    this._ws = null;
    this._sessionOpen = false;
    if (ws) ws.close(code, reason);
    this._abandon();
    this.hooks.state("closed");
  }

  /** True when the socket is open (a message can be sent now). */
  get connected() {
    return !!this._ws && this._ws.readyState === WebSocket.OPEN;
  }

  /**
   * Send one JSON message; false (and an `error` not_connected) when there is no socket.
   * @param {object} message
   */
  sendJson(message) {
    const ws = this._ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      this.hooks.error({ code: "not_connected", message: "not connected to the server" });
      return false;
    }
    ws.send(JSON.stringify(message));
    return true;
  }

  /**
   * Send a turn.cancel now, or, while a resume is pending, as soon as the session is back.
   * @param {object} cancel
   */
  sendCancel(cancel) {
    if (this._droppedAt !== null) this._pendingCancel = cancel;
    else this.sendJson(cancel);
  }

  /**
   * Whether the session can be resumed after a close with `code`.
   * @param {number} code
   */
  canResume(code) {
    return (
      !!this.options.resume &&
      !!this.resumeToken &&
      !!this.token &&
      this._lastSeq > 0 &&
      isResumableClose(code)
    );
  }

  /**
   * `url` with the identity, the conversation and (when resuming) the session to resume.
   * @param {boolean} resume
   */
  _sessionUrl(resume) {
    let u;
    try {
      u = resolveUrl(this.url);
    } catch {
      return this.url;
    }
    const q = u.searchParams;
    for (const name of ["token", "conversation", "resume", "last_seq"]) q.delete(name);
    if (this.token) q.set("token", this.token);
    if (this.conversationId) q.set("conversation", this.conversationId);
    if (resume && this.resumeToken) {
      q.set("resume", this.resumeToken);
      q.set("last_seq", String(this._lastSeq));
    }
    return u.href;
  }

  _open() {
    this._retryTimer = null;
    this.hooks.state(this._attempt > 0 ? "reconnecting" : "connecting");
    if (this._droppedAt !== null && Date.now() - this._droppedAt > this.options.resumeWindowMs) {
      this._abandon(); // too late: the server has let the session go
    }
    const resume = this._droppedAt !== null && this.canResume(1006);
    /** @type {WebSocket} */
    let ws;
    try {
      ws = new WebSocket(this._sessionUrl(resume), PROTOCOL);
    } catch (err) {
      this.hooks.error({ code: "connect_failed", message: errorMessage(err) });
      this._scheduleReconnect();
      return;
    }
    ws.binaryType = "arraybuffer";
    this._ws = ws;
    this._sessionOpen = false;
    if (!resume) this._lastSeq = 0;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      if (ws === this._ws) this.hooks.state("open");
    };
    ws.onmessage = (event) => {
      if (ws !== this._ws) return;
      if (typeof event.data === "string") this._onText(event.data);
      else this._onBinary(event.data);
    };
    ws.onclose = (event) => {
      if (ws !== this._ws) return;
      this._ws = null;
      this._sessionOpen = false;
      this._onDisconnect(event, opened);
    };
  }

  // The session will not be resumed: end it here, forget its resume token.
  _abandon() {
    this.hooks.ended();
    this.resumeToken = null;
    this._droppedAt = null;
    this._pendingCancel = null;
  }

  /**
   * @param {{code?: number, reason?: string} | null} event
   * @param {boolean} opened whether the socket had opened (else the handshake failed)
   */
  _onDisconnect(event, opened) {
    const code = (event && event.code) || 1006;
    if (this._closing || !this.options.reconnect) {
      this._abandon();
      this.hooks.state("closed");
      return;
    }
    if (isReportedClose(code)) {
      const reason = event && event.reason ? ` ${event.reason}` : "";
      this.hooks.error({
        code: "connection_closed",
        message: `the server closed the connection (${code}${reason})`,
      });
    }
    if (!this.canResume(code)) {
      this._abandon();
    } else if (this._droppedAt === null) {
      // Keep the turn, its text and the audio already scheduled: the resume continues them.
      this._droppedAt = Date.now();
      this.hooks.disconnected({ code, last_seq: this._lastSeq });
    }
    if (!opened && (this.resumeToken || this.conversationId || this._guestToken)) {
      // The handshake failed: refused (HTTP 403: a resume, conversation or token the server no
      // longer accepts) or no network. Only a server that answers HTTP can have refused it.
      this._probing = true;
      this.hooks.state("reconnecting");
      this._reachable().then((up) => {
        this._probing = false;
        if (this._closing || this._ws || this._retryTimer) return;
        if (up) this._fallBack();
        this._scheduleReconnect();
      });
      return;
    }
    this._scheduleReconnect();
  }

  // Does the server answer HTTP? (Any response will do; a network error or timeout is a no.)
  /** @returns {Promise<boolean>} */
  _reachable() {
    if (typeof fetch !== "function") return Promise.resolve(true);
    let probe;
    try {
      probe = resolveUrl(this.url);
      probe.protocol = probe.protocol === "wss:" ? "https:" : "http:";
      probe.search = "";
    } catch {
      return Promise.resolve(true);
    }
    const signal = globalThis.AbortSignal && AbortSignal.timeout ? AbortSignal.timeout(5000) : undefined;
    return fetch(probe.href, { mode: "no-cors", cache: "no-store", signal }).then(
      () => true,
      () => false,
    );
  }

  // A handshake the server refused: ask for less next time, one thing at a time.
  _fallBack() {
    if (this.resumeToken) {
      this._abandon();
      this.hooks.error({
        code: "resume_refused",
        message: "the session could not be resumed; a new one starts",
      });
    } else if (this.conversationId) {
      this.conversationId = null; // a new conversation
    } else if (this._guestToken) {
      this.token = null; // a new guest
      this._guestToken = false;
    }
  }

  _scheduleReconnect() {
    if (this._closing) return;
    const delay = backoffDelay(this._attempt, this.options);
    this._attempt += 1;
    this.hooks.state("reconnecting");
    this._retryTimer = setTimeout(() => this._open(), delay);
  }

  /**
   * @param {number | undefined} seq
   * @param {string} [type]
   */
  _checkSeq(seq, type) {
    if (typeof seq !== "number") return;
    if (type === "session.ready") {
      this._lastSeq = 0; // a new session: seq starts again at 1
    } else if (type === "session.resumed") {
      // It takes no number of its own: its seq is the last_seq the resume asked for.
      if (seq !== this._lastSeq) {
        this.hooks.error({
          code: "seq_gap",
          message: `session resumed at seq ${seq}, the last frame processed was ${this._lastSeq}`,
        });
      }
      this._lastSeq = seq;
      return;
    }
    if (this._lastSeq && seq !== this._lastSeq + 1) {
      this.hooks.error({ code: "seq_gap", message: `frame seq ${seq} after ${this._lastSeq}` });
    }
    this._lastSeq = seq;
  }

  /** @param {string} raw */
  _onText(raw) {
    let m;
    try {
      m = JSON.parse(raw);
    } catch {
      this.hooks.error({ code: "bad_server_json", message: "the server sent invalid JSON" });
      return;
    }
    if (!m || typeof m !== "object") return;
    this._checkSeq(m.seq, m.type);
    if (m.type === "session.ready") this._onReady(m);
    else if (m.type === "session.resumed") this._onResumed(m);
    this.hooks.message(m);
  }

  /** @param {ArrayBuffer} data */
  _onBinary(data) {
    let frame;
    try {
      frame = decodeFrame(data);
    } catch (err) {
      this.hooks.error({ code: "invalid_frame", message: errorMessage(err) });
      return;
    }
    this._checkSeq(frame.seq);
    this.hooks.frame(frame);
  }

  // A new session: on the first connect, after a plain reconnect, or when a resume could not
  // be honoured (then `error` resume_unavailable follows and the reply in flight is lost).
  /** @param {ServerMessage} m */
  _onReady(m) {
    this.hooks.ended(); // the turn in flight ends as interrupted, silenced
    this._attempt = 0;
    this._droppedAt = null;
    this._pendingCancel = null;
    this._sessionOpen = true;
    this.resumeToken = typeof m.resume_token === "string" && m.resume_token ? m.resume_token : null;
    if (m.guest_token) {
      this.token = m.guest_token;
      this._guestToken = true;
    }
    if (m.conversation_id) this.conversationId = m.conversation_id;
  }

  // The session goes on: the replayed frames continue where the last processed one left off.
  /** @param {ServerMessage} m */
  _onResumed(m) {
    this._attempt = 0;
    this._droppedAt = null;
    this._sessionOpen = true;
    const cancel = this._pendingCancel;
    this._pendingCancel = null;
    if (cancel) this.sendJson(cancel); // a stop while away: end the reply being replayed
    m.last_seq = this._lastSeq;
  }
}

/** @param {unknown} err */
export function errorMessage(err) {
  return String((err && /** @type {{message?: string}} */ (err).message) || err);
}
