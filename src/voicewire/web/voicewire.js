// voicewire.js — reference browser client of the voicewire.v1 protocol (see PROTOCOL.md).
//
// Dependency-free ES module. Copy it, import it:
//
//   import { VoicewireClient } from "/voicewire.js";
//   const client = new VoicewireClient("wss://example.org/ws", { voice: true });
//   client.addEventListener("text", (e) => render(e.detail.turn_id, e.detail.text));
//   client.addEventListener("word", (e) => highlight(e.detail.start16, e.detail.end16));
//   await client.connect();
//   client.send("Hello!");
//   client.stop(); // silence now and cancel the turn
//
// Speech arrives as pcm16 by default; `new VoicewireClient(url, { codec: "opus" })` (WebCodecs
// AudioDecoder) or `{ codec: "mp3" }` (decodeAudioData, one segment at a time) asks for
// compressed speech right after session.ready; `sampleRate` asks for a pcm16/mp3 rate. The
// payload framing of each codec is in docs/codecs.md.
//
// Events are CustomEvents; the payload is `event.detail`. `client.on(type, fn)` is a shorthand
// that passes the detail and returns an unsubscribe function.
//
// A dropped connection is resumed (PROTOCOL.md §8): the client reconnects with the session's
// resume_token and the seq of the last frame it processed, and the server replays what was
// missed, so the reply goes on as if nothing happened (audio already scheduled keeps playing;
// the replayed audio follows it gaplessly). When the server cannot resume, a new session starts
// on the same conversation and the reply in flight ends locally as interrupted.

export const PROTOCOL = "voicewire.v1";
export const HEADER_SIZE = 20;
export const KIND = Object.freeze({ SPEECH: 1, MICROPHONE: 2 });
export const FLAGS = Object.freeze({ SEGMENT_START: 1, SEGMENT_END: 2 });
export const CODEC = Object.freeze({ PCM16: 0, OPUS: 1, MP3: 2 });
const CODEC_NAMES = { 0: "pcm16", 1: "opus", 2: "mp3" };
const KNOWN_FLAGS = FLAGS.SEGMENT_START | FLAGS.SEGMENT_END;
export const OPUS_RATE = 48000; // opus is always sent at 48 kHz, whatever rate was asked for
const OPUS_PACKET_US = 20000;

// ---------------------------------------------------------------------------------------------
// Binary frames (PROTOCOL.md §4): 20-byte little-endian header, then the payload.

function toBytes(data) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("expected an ArrayBuffer or a typed array");
}

/** Decode one binary frame. Throws an Error for every frame a v1 decoder must reject. */
export function decodeFrame(data) {
  const bytes = toBytes(data);
  if (bytes.byteLength < HEADER_SIZE) {
    throw new Error(`frame is shorter than the 20-byte header (${bytes.byteLength} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(0);
  const kind = view.getUint8(1);
  const flags = view.getUint8(2);
  const codec = view.getUint8(3);
  if (version !== 1) throw new Error(`unsupported frame version ${version}`);
  if (kind !== KIND.SPEECH && kind !== KIND.MICROPHONE) throw new Error(`unknown frame kind ${kind}`);
  if (flags & ~KNOWN_FLAGS) throw new Error(`unknown flag bits 0x${flags.toString(16)}`);
  if (!(codec in CODEC_NAMES)) throw new Error(`unknown codec ${codec}`);
  const reserved = view.getUint16(14, true);
  if (reserved !== 0) throw new Error(`reserved field must be 0, got ${reserved}`);
  return {
    version,
    kind,
    flags,
    codec,
    seq: view.getUint32(4, true),
    turnId: view.getUint32(8, true),
    segmentId: view.getUint16(12, true),
    sampleOffset: view.getUint32(16, true),
    payload: bytes.subarray(HEADER_SIZE),
  };
}

function checkUint(name, value, max) {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${name} must be an integer in [0, ${max}], got ${value}`);
  }
  return value;
}

/** Encode one binary frame; the inverse of decodeFrame. Returns an ArrayBuffer. */
export function encodeFrame({
  version = 1,
  kind = KIND.SPEECH,
  flags = 0,
  codec = CODEC.PCM16,
  seq = 0,
  turnId = 0,
  segmentId = 0,
  sampleOffset = 0,
  reserved = 0,
  payload = new Uint8Array(0),
} = {}) {
  const body = toBytes(payload);
  const out = new Uint8Array(HEADER_SIZE + body.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, checkUint("version", version, 0xff));
  view.setUint8(1, checkUint("kind", kind, 0xff));
  view.setUint8(2, checkUint("flags", flags, 0xff));
  view.setUint8(3, checkUint("codec", codec, 0xff));
  view.setUint32(4, checkUint("seq", seq, 0xffffffff), true);
  view.setUint32(8, checkUint("turnId", turnId, 0xffffffff), true);
  view.setUint16(12, checkUint("segmentId", segmentId, 0xffff), true);
  view.setUint16(14, checkUint("reserved", reserved, 0xffff), true);
  view.setUint32(16, checkUint("sampleOffset", sampleOffset, 0xffffffff), true);
  out.set(body, HEADER_SIZE);
  return out.buffer;
}

/** pcm16 (signed 16-bit little-endian, mono) → Float32 samples in [-1, 1). */
export function pcm16ToFloat32(bytes) {
  const b = toBytes(bytes);
  const n = b.byteLength >> 1;
  const view = new DataView(b.buffer, b.byteOffset, n * 2);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true) / 32768;
  return out;
}

/**
 * Split an opus payload into its `[u16 LE length][bytes]` records (docs/codecs.md). The first
 * record of a segment's first frame is the OpusHead; the others are 20 ms Opus packets.
 */
export function opusRecords(bytes) {
  const b = toBytes(bytes);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = [];
  let pos = 0;
  while (pos + 2 <= b.byteLength) {
    const n = view.getUint16(pos, true);
    if (pos + 2 + n > b.byteLength) break;
    out.push(b.subarray(pos + 2, pos + 2 + n));
    pos += 2 + n;
  }
  if (pos !== b.byteLength) throw new Error("truncated opus record");
  return out;
}

/** The pre-skip (priming samples at 48 kHz to drop) of an OpusHead record. */
export function opusPreSkip(head) {
  const magic = String.fromCharCode(...head.subarray(0, 8));
  if (head.byteLength < 19 || magic !== "OpusHead") throw new Error("missing OpusHead");
  return head[10] | (head[11] << 8);
}

function concatFloat32(parts) {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function concatBytes(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.byteLength;
  }
  return out;
}

/**
 * Convert a [start, end) range of Unicode code points (the protocol's char offsets) into
 * UTF-16 indices of the JS string `text` (what String#slice wants).
 */
export function codePointRangeToUtf16(text, start, end) {
  if (!/[\uD800-\uDFFF]/.test(text)) return [start, end];
  let cp = 0;
  let i = 0;
  let s = text.length;
  let e = text.length;
  while (i <= text.length) {
    if (cp === start) s = i;
    if (cp === end) {
      e = i;
      break;
    }
    if (i === text.length) break;
    i += text.codePointAt(i) > 0xffff ? 2 : 1;
    cp += 1;
  }
  return [s, e];
}

function newId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return `m-${c.randomUUID()}`;
  return `m-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/** ws(s)://<this page's host>/ws */
export function defaultUrl(path = "/ws") {
  const loc = globalThis.location;
  const scheme = loc.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${loc.host}${path}`;
}

// ---------------------------------------------------------------------------------------------

const DEFAULTS = {
  voice: true,
  reconnect: true,
  backoffMs: 500, // first reconnect delay; doubles each attempt
  maxBackoffMs: 10000,
  startLead: 0.1, // s of lead when playback (re)starts, so small network jitter never gaps
  minLead: 0.02, // s: a buffer due sooner than this is late (an underrun)
  contextSampleRate: "stream", // "stream": create the AudioContext at the stream's rate
  codec: "pcm16", // "pcm16" | "opus" | "mp3": asked for with session.update after session.ready
  sampleRate: null, // a pcm16/mp3 rate to ask for (null: the server's default)
  timelineLimit: 5000, // buffer records kept in `timeline` (for tests and debugging)
  autoUnlock: true, // create/resume the AudioContext on the first click/keydown/touch
  token: null, // identity token (default: the URL's `token`, else the guest token from the server)
  conversation: null, // conversation to continue (default: the URL's `conversation`)
  resume: true, // resume a dropped session (PROTOCOL.md §8) instead of starting a new one
  resumeWindowMs: 150000, // give up resuming this long after the drop (resume_grace_s + _ttl_s)
};

// Closes after which the session is resumed (PROTOCOL.md §8): the connection went, the session
// did not. 1006: no close frame at all; 1011: also an unanswered ping; 1013: a busy server;
// 4001: a slow consumer cut off. Any other code ended the session on purpose (1000 done, 4000
// idle, 4002 resumed elsewhere, policy, bad data) and is not resumed. The Python client has the
// same table (protocol/errors.py); both are tested against tests/vectors/close_codes.json.
export const RESUMABLE_CLOSE_CODES = new Set([1001, 1006, 1011, 1012, 1013, 4001]);

/**
 * A voicewire.v1 client: one WebSocket, text events, gapless Web Audio playback, word timing.
 *
 * Events (detail): state {state}, ready (session.ready: a new session), resumed
 * (session.resumed, plus `last_seq`: the session goes on), session (session.updated),
 * turnStart (turn.start), text {turn_id, text, delta}, data (data), segment (segment.start /
 * segment.end, plus `start_time` on the audio clock), word {turn_id, segment_id, index, text,
 * char_start, char_end, start16, end16, start_ms, end_ms, time}, turnEnd {turn_id, status,
 * text, played_ms?}, playbackEnd {turn_id, played_ms}, error {code, message, turn_id?},
 * disconnected {code, last_seq} (the socket dropped; a resume follows, the turn goes on).
 * A turn lost with its session ends with turnEnd {status: "interrupted", disconnected: true}.
 */
export class VoicewireClient extends EventTarget {
  constructor(url, options = {}) {
    super();
    this.url = url || defaultUrl();
    this.options = { ...DEFAULTS, ...options };
    this.state = "closed";
    this.session = null; // last session.ready / session.updated
    this.audioFormat = { codec: "pcm16", sample_rate: 22050, channels: 1 };
    this.stats = { receivedSamples: 0, playedSamples: 0, scheduledSegments: 0, underruns: 0 };
    this.timeline = []; // [{turn_id, segment_id, sample_offset, samples, rate, start, end, stopped_at}]
    this.output = null; // GainNode every source goes through (connect analysers here)
    this._ws = null;
    this._ctx = null;
    this._closing = false;
    this._attempt = 0;
    this._retryTimer = null;
    this._readyWaiters = [];
    this._turns = new Map(); // turn_id → turn state (this session)
    this._current = null; // the latest turn
    this._playing = []; // [{turn, record, node}] scheduled and not yet ended
    this._words = []; // pending word events, sorted by time
    this._nextTime = 0; // audio-clock time where the next buffer goes
    this._ticker = null;
    this._codecWarned = new Set();
    this._formatPending = false; // a session.update for the codec is on its way
    this._lastSeq = 0; // seq of the last frame processed in this session
    // Identity and conversation, sent again on every reconnect (PROTOCOL.md §0).
    const query = this._urlParams();
    this.token = this.options.token || query.get("token") || null;
    this.conversationId = this.options.conversation || query.get("conversation") || null;
    this._guestToken = false; // `token` came from session.ready.guest_token
    this.resumeToken = null; // session.ready.resume_token of the current session
    this._sessionOpen = false; // session.ready / session.resumed came on the current socket
    this._droppedAt = null; // Date.now() of the drop a resume is pending for
    this._probing = false;
    this._pendingCancel = null; // a stop() while disconnected: sent once the session resumed
    this._settings = {}; // setVoice() fields, sent again to a new session
    this._onGesture = () => this.resumeAudio();
    this._onVisibility = () => {
      if (document.visibilityState === "visible" && this._ctx) this.resumeAudio();
    };
    if (this.options.autoUnlock && typeof window !== "undefined") {
      for (const type of ["pointerdown", "keydown", "touchend", "click"]) {
        window.addEventListener(type, this._onGesture, { capture: true, passive: true });
      }
      document.addEventListener("visibilitychange", this._onVisibility);
    }
  }

  /** Subscribe to an event; `fn` gets the detail. Returns an unsubscribe function. */
  on(type, fn) {
    const listener = (e) => fn(e.detail, e);
    this.addEventListener(type, listener);
    return () => this.removeEventListener(type, listener);
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this._emit("state", { state });
  }

  /** The WebSocket of the running session (read-only use), or null (also while it reconnects). */
  get socket() {
    return this._sessionOpen ? this._ws : null;
  }

  /** The seq of the last frame processed (what a resume asks the server to continue after). */
  get lastSeq() {
    return this._lastSeq;
  }

  get audioContext() {
    return this._ctx;
  }

  /** True while a turn runs on the server or its audio still plays. */
  get busy() {
    const t = this._current;
    return !!t && !t.dropped && (t.running || !t.playbackEnded);
  }

  /** True while a dropped session waits to be resumed (its turn and audio go on meanwhile). */
  get resuming() {
    return this._droppedAt !== null;
  }

  get currentTurnId() {
    return this._current ? this._current.id : null;
  }

  // --- connection -----------------------------------------------------------------------------

  /** Open the socket (and keep it open). Resolves with session.ready. */
  connect() {
    this._closing = false;
    const ready = new Promise((resolve) => this._readyWaiters.push(resolve));
    if (!this._ws && !this._retryTimer && !this._probing) this._open();
    return ready;
  }

  /**
   * Close for good (no reconnect, no resume). A running turn is cancelled first (with the ms
   * heard), so the server does not finish a reply nobody will come back for (PROTOCOL.md §8).
   */
  close(code = 1000, reason = "") {
    if (this._ws && this._ws.readyState === WebSocket.OPEN) this.stop();
    this._closing = true;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    const ws = this._ws;
    this._ws = null;
    this._sessionOpen = false;
    if (ws) ws.close(code, reason);
    this._abandonSession();
    this._setState("closed");
  }

  /** Close, stop audio and remove the global listeners. */
  destroy() {
    this.close();
    if (typeof window !== "undefined") {
      for (const type of ["pointerdown", "keydown", "touchend", "click"]) {
        window.removeEventListener(type, this._onGesture, { capture: true });
      }
      document.removeEventListener("visibilitychange", this._onVisibility);
    }
    if (this._ctx) this._ctx.close();
    this._ctx = null;
  }

  _urlParams() {
    try {
      return new URL(this.url, globalThis.location && globalThis.location.href).searchParams;
    } catch {
      return new URLSearchParams();
    }
  }

  // `url` with the identity, the conversation and (when resuming) the session to resume.
  _sessionUrl(resume) {
    let u;
    try {
      u = new URL(this.url, globalThis.location && globalThis.location.href);
    } catch {
      return this.url;
    }
    const q = u.searchParams;
    for (const name of ["token", "conversation", "resume", "last_seq"]) q.delete(name);
    if (this.token) q.set("token", this.token);
    if (this.conversationId) q.set("conversation", this.conversationId);
    if (resume) {
      q.set("resume", this.resumeToken);
      q.set("last_seq", String(this._lastSeq));
    }
    return u.href;
  }

  // Whether the session can be resumed after a close with `code`.
  _canResume(code) {
    return (
      !!this.options.resume &&
      !!this.resumeToken &&
      !!this.token &&
      this._lastSeq > 0 &&
      RESUMABLE_CLOSE_CODES.has(code)
    );
  }

  _open() {
    this._retryTimer = null;
    this._setState(this._attempt > 0 ? "reconnecting" : "connecting");
    if (this._droppedAt !== null && Date.now() - this._droppedAt > this.options.resumeWindowMs) {
      this._abandonSession(); // too late: the server has let the session go
    }
    const resume = this._droppedAt !== null && this._canResume(1006);
    let ws;
    try {
      ws = new WebSocket(this._sessionUrl(resume), PROTOCOL);
    } catch (err) {
      this._emit("error", { code: "connect_failed", message: String(err.message || err) });
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
      if (ws === this._ws) this._setState("open");
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

  // The session is gone: the server interrupts its running turn, so the client does too.
  _endSession() {
    const t = this._current;
    if (t && t.running && !t.ended) {
      t.running = false;
      t.ended = true;
      t.status = "interrupted";
      this._emit("turnEnd", {
        turn_id: t.id,
        status: "interrupted",
        text: t.text,
        disconnected: true,
      });
    }
    this._silenceAll();
  }

  // The session will not be resumed: end it here, forget its resume token.
  _abandonSession() {
    this._endSession();
    this.resumeToken = null;
    this._droppedAt = null;
    this._pendingCancel = null;
  }

  _onDisconnect(event, opened) {
    const code = (event && event.code) || 1006;
    if (this._closing || !this.options.reconnect) {
      this._abandonSession();
      this._setState("closed");
      return;
    }
    if (code !== 1000 && code !== 1001 && code !== 1006) {
      const reason = event && event.reason ? ` ${event.reason}` : "";
      this._emit("error", {
        code: "connection_closed",
        message: `the server closed the connection (${code}${reason})`,
      });
    }
    if (!this._canResume(code)) {
      this._abandonSession();
    } else if (this._droppedAt === null) {
      // Keep the turn, its text and the audio already scheduled: the resume continues them.
      this._droppedAt = Date.now();
      this._emit("disconnected", { code, last_seq: this._lastSeq });
    }
    if (!opened && (this.resumeToken || this.conversationId || this._guestToken)) {
      // The handshake failed: refused (HTTP 403: a resume, conversation or token the server no
      // longer accepts) or no network. Only a server that answers HTTP can have refused it.
      this._probing = true;
      this._setState("reconnecting");
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
  _reachable() {
    if (typeof fetch !== "function") return Promise.resolve(true);
    let probe;
    try {
      probe = new URL(this.url, globalThis.location && globalThis.location.href);
      probe.protocol = probe.protocol === "wss:" ? "https:" : "http:";
      probe.search = "";
    } catch {
      return Promise.resolve(true);
    }
    const timeout = globalThis.AbortSignal && AbortSignal.timeout;
    const signal = timeout ? AbortSignal.timeout(5000) : undefined;
    return fetch(probe.href, { mode: "no-cors", cache: "no-store", signal }).then(
      () => true,
      () => false,
    );
  }

  // A handshake the server refused: ask for less next time, one thing at a time.
  _fallBack() {
    if (this.resumeToken) {
      this._abandonSession();
      this._emit("error", {
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
    const { backoffMs, maxBackoffMs } = this.options;
    const base = Math.min(maxBackoffMs, backoffMs * 2 ** this._attempt);
    const delay = Math.round(base * (0.8 + 0.4 * Math.random()));
    this._attempt += 1;
    this._setState("reconnecting");
    this._retryTimer = setTimeout(() => this._open(), delay);
  }

  _sendJson(message) {
    const ws = this._ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      this._emit("error", { code: "not_connected", message: "not connected to the server" });
      return false;
    }
    ws.send(JSON.stringify(message));
    return true;
  }

  // --- client → server ------------------------------------------------------------------------

  /** Send a user message; returns its id (or null when not connected). */
  send(text, { voice = this.options.voice, id = newId() } = {}) {
    // The server interrupts a running turn when a new message comes (barge-in); stop it here
    // first so it gets the played_ms, and so its audio does not overlap the new reply.
    if (this.busy) this.stop();
    if (voice) this.resumeAudio();
    return this._sendJson({ type: "user.message", id, text, voice: !!voice }) ? id : null;
  }

  /**
   * Silence the current turn at once, and cancel it on the server if it still runs.
   * Returns {turn_id, played_ms} or null when nothing was playing or running.
   */
  stop() {
    const t = this._current;
    if (!t || !this.busy) return null;
    const played = this._dropAudio(t);
    if (t.running) {
      const cancel = { type: "turn.cancel", turn_id: t.id, played_ms: Math.round(played) };
      if (this._droppedAt !== null) {
        this._pendingCancel = cancel; // away: sent as soon as the session has resumed
      } else {
        this._sendJson(cancel);
      }
    }
    this._finishPlayback(t);
    return { turn_id: t.id, played_ms: Math.round(played) };
  }

  /** Change the speech settings of the turns that start afterwards (session.update). */
  setVoice({ voice, voice_name, rate } = {}) {
    const message = { type: "session.update" };
    if (voice !== undefined) {
      message.voice = !!voice;
      this.options.voice = !!voice;
    }
    if (voice_name !== undefined) message.voice_name = voice_name;
    if (rate !== undefined) message.rate = rate;
    Object.assign(this._settings, message); // a new session gets them again
    delete this._settings.type;
    return this._sendJson(message);
  }

  /** Ask for another codec and/or rate (for the turns that start afterwards). */
  setFormat({ codec, sampleRate } = {}) {
    const message = { type: "session.update" };
    if (codec !== undefined) message.codec = this.options.codec = codec;
    if (sampleRate !== undefined) message.sample_rate = this.options.sampleRate = sampleRate;
    return this._sendJson(message);
  }

  // After session.ready: ask for the codec/rate of the options and the settings of setVoice()
  // the new session does not have yet; true when an update was sent.
  _requestFormat() {
    const { codec, sampleRate } = this.options;
    const want = {};
    const session = this.session || {};
    for (const [name, value] of Object.entries(this._settings)) {
      if (session[name] !== value) want[name] = value;
    }
    if (codec && codec !== this.audioFormat.codec) want.codec = codec;
    if (sampleRate && sampleRate !== this.audioFormat.sample_rate) want.sample_rate = sampleRate;
    if (Object.keys(want).length === 0) return false;
    this._formatPending = this._sendJson({ type: "session.update", ...want });
    return this._formatPending;
  }

  _resolveReady(m) {
    this._formatPending = false;
    for (const resolve of this._readyWaiters.splice(0)) resolve(m);
  }

  ping(id) {
    return this._sendJson(id === undefined ? { type: "ping" } : { type: "ping", id });
  }

  // --- server → client ------------------------------------------------------------------------

  _checkSeq(seq, type) {
    if (typeof seq !== "number") return;
    if (type === "session.ready") {
      this._lastSeq = 0; // a new session: seq starts again at 1
    } else if (type === "session.resumed") {
      // It takes no number of its own: its seq is the last_seq the resume asked for.
      if (seq !== this._lastSeq) {
        this._emit("error", {
          code: "seq_gap",
          message: `session resumed at seq ${seq}, the last frame processed was ${this._lastSeq}`,
        });
      }
      this._lastSeq = seq;
      return;
    }
    if (this._lastSeq && seq !== this._lastSeq + 1) {
      this._emit("error", {
        code: "seq_gap",
        message: `frame seq ${seq} after ${this._lastSeq}`,
      });
    }
    this._lastSeq = seq;
  }

  _onText(raw) {
    let m;
    try {
      m = JSON.parse(raw);
    } catch {
      this._emit("error", { code: "bad_server_json", message: "the server sent invalid JSON" });
      return;
    }
    if (!m || typeof m !== "object") return;
    this._checkSeq(m.seq, m.type);
    switch (m.type) {
      case "session.ready":
        this._onSessionReady(m);
        break;
      case "session.resumed":
        this._onSessionResumed(m);
        break;
      case "session.updated":
        this.session = { ...this.session, ...m };
        if (m.audio) this.audioFormat = m.audio;
        this._emit("session", m);
        if (this._formatPending) this._resolveReady(this.session);
        break;
      case "turn.start":
        this._onTurnStart(m);
        break;
      case "text.delta": {
        const t = this._turn(m.turn_id);
        t.text += m.text;
        this._emit("text", { turn_id: m.turn_id, text: t.text, delta: m.text });
        break;
      }
      case "data":
        this._emit("data", m);
        break;
      case "segment.start":
        this._onSegmentStart(m);
        break;
      case "segment.end":
        this._onSegmentEnd(m);
        break;
      case "turn.end":
        this._onTurnEnd(m);
        break;
      case "error":
        this._emit("error", m);
        if (this._formatPending && !m.turn_id) this._resolveReady(this.session); // refused
        break;
      case "pong":
        this._emit("pong", m);
        break;
      case "input_audio.speech_started":
        // The user talks over the reply: silence it now (the server stops the turn too).
        if (this.busy) this.stop();
        this._emit("speechStarted", m);
        break;
      case "input_audio.transcript":
        this._emit("transcript", m);
        break;
      default:
        break; // unknown server types are ignored (PROTOCOL.md §6)
    }
  }

  // A new session: on the first connect, after a plain reconnect, or when a resume could not
  // be honoured (then `error` resume_unavailable follows and the reply in flight is lost here).
  _onSessionReady(m) {
    this._endSession(); // before `ready`: the turn in flight ends as interrupted, silenced
    this._turns.clear();
    this._current = null;
    this._attempt = 0;
    this._droppedAt = null;
    this._pendingCancel = null;
    this._sessionOpen = true;
    this.session = m;
    this.resumeToken = typeof m.resume_token === "string" && m.resume_token ? m.resume_token : null;
    if (m.guest_token) {
      this.token = m.guest_token;
      this._guestToken = true;
    }
    if (m.conversation_id) this.conversationId = m.conversation_id;
    if (m.audio) this.audioFormat = m.audio;
    this._emit("ready", m);
    // connect() resolves once the asked-for codec is in force, so the first turn has it.
    if (!this._requestFormat()) this._resolveReady(m);
  }

  // The session goes on: turns, text, settings and the audio already scheduled are kept; the
  // replayed frames that follow continue exactly where the last processed frame left off.
  _onSessionResumed(m) {
    this._attempt = 0;
    this._droppedAt = null;
    this._sessionOpen = true;
    const cancel = this._pendingCancel;
    this._pendingCancel = null;
    if (cancel) this._sendJson(cancel); // stop() while away: end the reply being replayed
    this._emit("resumed", { ...m, last_seq: this._lastSeq });
    if (!this._formatPending) this._resolveReady(this.session);
  }

  _turn(id) {
    let t = this._turns.get(id);
    if (!t) {
      t = {
        id,
        text: "",
        running: true,
        ended: false,
        dropped: false,
        playbackEnded: false,
        status: null,
        rate: this._streamRate(),
        records: [], // buffer records of this turn (also in `timeline`)
        segments: new Map(), // segment_id → {chunks: [{offset, start, samples}], ...}
        pending: 0, // scheduled buffers not yet ended
        frozenPlayed: null,
        chain: null, // opus/mp3: decode-and-schedule jobs, run strictly in order
        jobs: 0, // jobs not finished yet
      };
      // Keep only a few past turns.
      if (this._turns.size > 16) this._turns.delete(this._turns.keys().next().value);
      this._turns.set(id, t);
    }
    return t;
  }

  _onTurnStart(m) {
    const prev = this._current;
    if (prev && prev.id !== m.turn_id && !prev.dropped && !prev.playbackEnded) {
      // A new turn replaces the old one (the server interrupted it): never play both.
      this._dropAudio(prev);
      this._finishPlayback(prev);
    }
    const t = this._turn(m.turn_id);
    t.rate = this._streamRate();
    this._current = t;
    this._emit("turnStart", m);
  }

  _streamRate() {
    return this.audioFormat.codec === "opus" ? OPUS_RATE : this.audioFormat.sample_rate;
  }

  _onTurnEnd(m) {
    const t = this._turn(m.turn_id);
    // A segment cut short never gets its segment.end: its held-back audio plays as it is.
    for (const seg of t.segments.values()) this._releaseSegment(seg, null);
    t.running = false;
    t.ended = true;
    t.status = m.status;
    if (t.text !== m.text && m.status === "complete") {
      this._emit("error", {
        code: "text_mismatch",
        message: "the text deltas do not add up to the turn's text",
        turn_id: m.turn_id,
      });
    }
    this._emit("turnEnd", m);
    this._maybeFinishPlayback(t);
  }

  _onSegmentStart(m) {
    const t = this._turn(m.turn_id);
    if (t.dropped) return;
    if (!t.segments.has(m.segment_id)) {
      t.segments.set(m.segment_id, { chunks: [], char_start: m.char_start, counted: false });
    }
    this._emit("segment", m);
  }

  _onSegmentEnd(m) {
    const t = this._turn(m.turn_id);
    if (t.dropped) return;
    if (t.chain) {
      // Compressed audio is still being decoded: its words are timed once it is scheduled.
      const seg = t.segments.get(m.segment_id);
      if (seg) this._releaseSegment(seg, m.samples);
      this._enqueue(t, () => this._segmentEnded(t, m));
      return;
    }
    this._segmentEnded(t, m);
  }

  _segmentEnded(t, m) {
    const seg = t.segments.get(m.segment_id);
    const first = seg && seg.chunks[0];
    const startTime = first ? first.start - first.offset / t.rate : null;
    this._emit("segment", { ...m, start_time: startTime });
    if (!seg || !first || !Array.isArray(m.words)) return;
    m.words.forEach((w, index) => {
      const time = this._timeOfSample(seg, Math.round((w.start_ms * t.rate) / 1000), t.rate);
      const [start16, end16] = codePointRangeToUtf16(t.text, w.char_start, w.char_end);
      this._addWord({
        turn_id: t.id,
        segment_id: m.segment_id,
        index,
        text: w.text,
        char_start: w.char_start,
        char_end: w.char_end,
        start16,
        end16,
        start_ms: w.start_ms,
        end_ms: w.end_ms,
        time,
      });
    });
    this._ensureTicker();
  }

  // Where a sample of a segment plays on the audio clock (exact even across an underrun gap).
  _timeOfSample(seg, sample, rate) {
    let chunk = seg.chunks[0];
    for (const c of seg.chunks) {
      if (c.offset <= sample) chunk = c;
      else break;
    }
    return chunk.start + (sample - chunk.offset) / rate;
  }

  _addWord(word) {
    const words = this._words;
    let i = words.length;
    while (i > 0 && words[i - 1].time > word.time) i--;
    words.splice(i, 0, word);
  }

  _onBinary(data) {
    let frame;
    try {
      frame = decodeFrame(data);
    } catch (err) {
      this._emit("error", { code: "invalid_frame", message: err.message });
      return;
    }
    this._checkSeq(frame.seq);
    if (frame.kind !== KIND.SPEECH) return;
    if (!this._canPlay(frame.codec)) {
      const name = CODEC_NAMES[frame.codec];
      if (!this._codecWarned.has(name)) {
        this._codecWarned.add(name);
        this._emit("error", {
          code: "unsupported_codec",
          message: `this browser cannot play ${name} audio; the reply continues as text`,
          turn_id: frame.turnId,
        });
      }
      return;
    }
    const t = this._turns.get(frame.turnId);
    if (!t || t.dropped || t !== this._current) return;
    let seg = t.segments.get(frame.segmentId);
    if (!seg) {
      seg = { chunks: [], char_start: null, counted: false };
      t.segments.set(frame.segmentId, seg);
    }
    if (frame.codec === CODEC.OPUS) {
      this._onOpus(t, seg, frame);
      return;
    }
    if (frame.codec === CODEC.MP3) {
      this._onMp3(t, seg, frame);
      return;
    }
    const samples = pcm16ToFloat32(frame.payload);
    this.stats.receivedSamples += samples.length;
    if (samples.length === 0) return;
    this._schedule(t, seg, frame, samples);
  }

  _canPlay(codec) {
    if (codec === CODEC.OPUS) return typeof globalThis.AudioDecoder === "function";
    if (codec === CODEC.MP3) return typeof globalThis.OfflineAudioContext === "function";
    return codec === CODEC.PCM16;
  }

  // --- compressed speech ----------------------------------------------------------------------
  //
  // Decoding is asynchronous, so each frame becomes a job on its turn's chain: jobs start
  // decoding at once but schedule their audio strictly in arrival order, so segments stay in
  // order and gapless; segment.end's word timing is a job too, after its segment's audio.

  _enqueue(t, job) {
    t.jobs += 1;
    t.chain = (t.chain || Promise.resolve())
      .then(() => (t.dropped ? undefined : job()))
      .catch((err) => {
        this._emit("error", {
          code: "decode_failed",
          message: String((err && err.message) || err),
          turn_id: t.id,
        });
      })
      .then(() => {
        t.jobs -= 1;
        if (t.ended) this._maybeFinishPlayback(t);
      });
  }

  // The segment's length in samples once its segment.end came (null: it never will).
  _segmentSamples(seg) {
    if (seg.endSamples !== undefined) return Promise.resolve(seg.endSamples);
    return new Promise((resolve) => (seg.endWaiters || (seg.endWaiters = [])).push(resolve));
  }

  _releaseSegment(seg, samples) {
    if (seg.endSamples !== undefined) return;
    seg.endSamples = samples;
    for (const resolve of seg.endWaiters || []) resolve(samples);
    seg.endWaiters = null;
  }

  _play(t, seg, frame, samples) {
    if (t.dropped || t !== this._current) return;
    this.stats.receivedSamples += samples.length;
    if (samples.length > 0) this._schedule(t, seg, frame, samples);
  }

  // Opus: one WebCodecs AudioDecoder per segment (each segment is a new Opus stream). The
  // OpusHead's pre-skip is dropped here (no `description` is given, so the decoder keeps it),
  // and the last frame's packet padding is cut at segment.end.samples.
  _onOpus(t, seg, frame) {
    let records;
    try {
      records = opusRecords(frame.payload);
      if (frame.flags & FLAGS.SEGMENT_START && records.length) {
        seg.opus = this._opusDecoder(t, opusPreSkip(records.shift()));
      }
    } catch (err) {
      this._emit("error", { code: "invalid_frame", message: err.message, turn_id: t.id });
      return;
    }
    t.rate = OPUS_RATE;
    const op = seg.opus;
    const last = (frame.flags & FLAGS.SEGMENT_END) !== 0;
    const decoded = op ? this._decodeOpus(op, records, last) : Promise.resolve(new Float32Array(0));
    this._enqueue(t, async () => {
      let pcm = await decoded;
      if (op && op.skip > 0) {
        const skip = Math.min(op.skip, pcm.length);
        op.skip -= skip;
        pcm = pcm.subarray(skip);
      }
      if (last) {
        const total = await this._segmentSamples(seg);
        if (total !== null) pcm = pcm.subarray(0, Math.max(0, total - frame.sampleOffset));
      }
      this._play(t, seg, frame, pcm);
    });
  }

  _opusDecoder(t, preSkip) {
    const op = { skip: preSkip, timestamp: 0, outputs: [], waiters: [], decoder: null };
    op.decoder = new AudioDecoder({
      output: (data) => {
        const pcm = new Float32Array(data.numberOfFrames);
        data.copyTo(pcm, { planeIndex: 0, format: "f32-planar" });
        data.close();
        op.outputs.push(pcm);
        this._drainOpus(op);
      },
      error: (err) => {
        this._emit("error", { code: "decode_failed", message: err.message, turn_id: t.id });
        this._closeOpus(op);
      },
    });
    op.decoder.configure({ codec: "opus", sampleRate: OPUS_RATE, numberOfChannels: 1 });
    return op;
  }

  // The decoded samples of `packets` (one AudioData comes out per packet), concatenated.
  _decodeOpus(op, packets, last) {
    if (op.decoder.state !== "configured") return Promise.resolve(new Float32Array(0));
    const done = new Promise((resolve) => op.waiters.push({ count: packets.length, resolve }));
    try {
      for (const data of packets) {
        op.decoder.decode(new EncodedAudioChunk({ type: "key", timestamp: op.timestamp, data }));
        op.timestamp += OPUS_PACKET_US;
      }
      if (last) op.decoder.flush().then(() => this._closeOpus(op), () => this._closeOpus(op));
    } catch (err) {
      this._emit("error", { code: "decode_failed", message: err.message });
      this._closeOpus(op);
    }
    this._drainOpus(op);
    return done;
  }

  _drainOpus(op) {
    while (op.waiters.length && op.outputs.length >= op.waiters[0].count) {
      const { count, resolve } = op.waiters.shift();
      resolve(concatFloat32(op.outputs.splice(0, count)));
    }
  }

  // Stop decoding; whatever waits for output gets what there is.
  _closeOpus(op) {
    if (op.decoder.state !== "closed") op.decoder.close();
    for (const { resolve } of op.waiters.splice(0)) {
      resolve(concatFloat32([new Float32Array(0), ...op.outputs.splice(0)]));
    }
  }

  // MP3: each segment is one MP3 file (its LAME tag trims the codec delay and padding), decoded
  // whole at the stream's rate once its last frame is in.
  _onMp3(t, seg, frame) {
    (seg.mp3 || (seg.mp3 = [])).push(frame.payload.slice());
    if (!(frame.flags & FLAGS.SEGMENT_END)) return;
    const bytes = concatBytes(seg.mp3);
    seg.mp3 = null;
    const decoded =
      bytes.byteLength === 0
        ? Promise.resolve(new Float32Array(0))
        : Promise.resolve()
            .then(() => new OfflineAudioContext(1, 1, t.rate).decodeAudioData(bytes.buffer))
            .then((buffer) => buffer.getChannelData(0));
    decoded.catch(() => {}); // reported by its job, in order, not as an unhandled rejection
    this._enqueue(t, async () => {
      let pcm = await decoded;
      const total = await this._segmentSamples(seg);
      if (total !== null) pcm = pcm.subarray(0, total);
      this._play(t, seg, { segmentId: frame.segmentId, sampleOffset: 0 }, pcm);
    });
  }

  // --- audio ----------------------------------------------------------------------------------

  /** Create (on first use) and resume the AudioContext. Call it from a user gesture. */
  resumeAudio() {
    const Ctx = globalThis.AudioContext || globalThis.webkitAudioContext;
    if (!Ctx) return Promise.resolve(null);
    if (!this._ctx) {
      const want = this.options.contextSampleRate;
      const rate = want === "stream" ? this.audioFormat.sample_rate : want;
      try {
        this._ctx = rate ? new Ctx({ sampleRate: rate, latencyHint: "interactive" }) : new Ctx();
      } catch {
        this._ctx = new Ctx(); // a rate the browser refuses: let Web Audio resample buffers
      }
      this.output = this._ctx.createGain();
      this.output.connect(this._ctx.destination);
    }
    const ctx = this._ctx;
    if (ctx.state !== "running" && ctx.state !== "closed") {
      return ctx.resume().then(
        () => ctx,
        () => ctx,
      );
    }
    return Promise.resolve(ctx);
  }

  /** The audio clock (s): what has been rendered. */
  get currentTime() {
    return this._ctx ? this._ctx.currentTime : 0;
  }

  /** The audio clock minus the output latency: what the listener hears now. */
  get heardTime() {
    const ctx = this._ctx;
    if (!ctx) return 0;
    return ctx.currentTime - (ctx.outputLatency || ctx.baseLatency || 0);
  }

  _schedule(t, seg, frame, samples) {
    this.resumeAudio(); // no-op when running; resumes a suspended context before scheduling
    const ctx = this._ctx;
    if (!ctx) return;
    const buffer = ctx.createBuffer(1, samples.length, t.rate);
    buffer.copyToChannel(samples, 0);
    const now = ctx.currentTime;
    let start;
    if (this._nextTime >= now + this.options.minLead) {
      start = this._nextTime; // gapless: right after the previous buffer
    } else {
      if (t.records.length > 0) this.stats.underruns += 1; // ran dry in the middle of a turn
      start = now + this.options.startLead;
    }
    const duration = samples.length / t.rate;
    const node = ctx.createBufferSource();
    node.buffer = buffer;
    node.connect(this.output);
    node.start(start);
    this._nextTime = start + duration;
    const record = {
      turn_id: t.id,
      segment_id: frame.segmentId,
      sample_offset: frame.sampleOffset,
      samples: samples.length,
      rate: t.rate,
      start,
      end: start + duration,
      stopped_at: null,
    };
    t.records.push(record);
    t.pending += 1;
    seg.chunks.push({ offset: frame.sampleOffset, start, samples: samples.length });
    if (!seg.counted) {
      seg.counted = true;
      this.stats.scheduledSegments += 1;
    }
    this.timeline.push(record);
    if (this.timeline.length > this.options.timelineLimit) this.timeline.shift();
    this._playing.push({ turn: t, record, node });
    node.onended = () => this._tick();
    this._ensureTicker();
  }

  /** ms of this turn's audio played so far (measured on the audio clock). */
  playedMs(turnId = this.currentTurnId) {
    const t = this._turns.get(turnId);
    if (!t) return 0;
    if (t.frozenPlayed !== null) return t.frozenPlayed;
    return this._playedAt(t, this.currentTime);
  }

  _playedAt(t, now) {
    let s = 0;
    for (const r of t.records) {
      const end = r.stopped_at === null ? r.end : Math.min(r.end, r.stopped_at);
      s += Math.max(0, Math.min(now, end) - r.start);
    }
    return s * 1000;
  }

  // Stop every source of turn `t` now; returns the ms of it that played.
  _dropAudio(t) {
    t.dropped = true;
    const now = this.currentTime;
    const keep = [];
    for (const p of this._playing) {
      if (p.turn !== t) {
        keep.push(p);
        continue;
      }
      p.node.onended = null;
      if (p.record.end <= now) {
        // Already played to its end; the ticker just had not counted it yet.
        this.stats.playedSamples += p.record.samples;
        p.turn.pending -= 1;
        p.node.disconnect();
        continue;
      }
      try {
        p.node.stop();
      } catch {
        // never started: nothing to stop
      }
      p.node.disconnect();
      p.record.stopped_at = now;
      t.pending -= 1;
    }
    this._playing = keep;
    this._words = this._words.filter((w) => w.turn_id !== t.id);
    for (const seg of t.segments.values()) {
      if (seg.opus) this._closeOpus(seg.opus);
      this._releaseSegment(seg, null);
    }
    t.frozenPlayed = this._playedAt(t, now);
    if (this._current === t) this._nextTime = 0;
    return t.frozenPlayed;
  }

  _silenceAll() {
    for (const t of this._turns.values()) {
      if (t.playbackEnded) continue;
      if ((t.pending > 0 || t.jobs > 0) && !t.dropped) this._dropAudio(t);
      if (t.dropped || !t.running) this._finishPlayback(t);
    }
  }

  _finishPlayback(t) {
    if (t.playbackEnded) return;
    t.playbackEnded = true;
    this._emit("playbackEnd", { turn_id: t.id, played_ms: Math.round(this.playedMs(t.id)) });
  }

  _maybeFinishPlayback(t) {
    const idle = t.pending === 0 && t.jobs === 0;
    if (t.ended && idle && !this._words.some((w) => w.turn_id === t.id)) {
      if (!t.dropped) t.frozenPlayed = this._playedAt(t, this.currentTime);
      this._finishPlayback(t);
    }
  }

  _ensureTicker() {
    if (this._ticker === null) this._ticker = setInterval(() => this._tick(), 15);
  }

  _tick() {
    const ctx = this._ctx;
    if (ctx) {
      const now = ctx.currentTime;
      if (this._playing.length) {
        const keep = [];
        for (const p of this._playing) {
          if (p.record.end <= now) {
            this.stats.playedSamples += p.record.samples;
            p.turn.pending -= 1;
            p.node.onended = null;
            p.node.disconnect();
          } else {
            keep.push(p);
          }
        }
        this._playing = keep;
      }
      const heard = this.heardTime;
      while (this._words.length && this._words[0].time <= heard) {
        this._emit("word", this._words.shift());
      }
    }
    const t = this._current;
    if (t && !t.playbackEnded) this._maybeFinishPlayback(t);
    if (!this._playing.length && !this._words.length && this._ticker !== null) {
      clearInterval(this._ticker);
      this._ticker = null;
    }
  }
}

export default VoicewireClient;
