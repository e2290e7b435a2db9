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
// Events are CustomEvents; the payload is `event.detail`. `client.on(type, fn)` is a shorthand
// that passes the detail and returns an unsubscribe function.

export const PROTOCOL = "voicewire.v1";
export const HEADER_SIZE = 20;
export const KIND = Object.freeze({ SPEECH: 1, MICROPHONE: 2 });
export const FLAGS = Object.freeze({ SEGMENT_START: 1, SEGMENT_END: 2 });
export const CODEC = Object.freeze({ PCM16: 0, OPUS: 1, MP3: 2 });
const CODEC_NAMES = { 0: "pcm16", 1: "opus", 2: "mp3" };
const KNOWN_FLAGS = FLAGS.SEGMENT_START | FLAGS.SEGMENT_END;

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
  timelineLimit: 5000, // buffer records kept in `timeline` (for tests and debugging)
  autoUnlock: true, // create/resume the AudioContext on the first click/keydown/touch
};

/**
 * A voicewire.v1 client: one WebSocket, text events, gapless Web Audio playback, word timing.
 *
 * Events (detail): state {state}, ready (session.ready), session (session.updated),
 * turnStart (turn.start), text {turn_id, text, delta}, data (data), segment (segment.start /
 * segment.end, plus `start_time` on the audio clock), word {turn_id, segment_id, index, text,
 * char_start, char_end, start16, end16, start_ms, end_ms, time}, turnEnd {turn_id, status,
 * text, played_ms?}, playbackEnd {turn_id, played_ms}, error {code, message, turn_id?}.
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
    this._lastSeq = 0;
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

  /** The open WebSocket (read-only use), or null. */
  get socket() {
    return this._ws;
  }

  get audioContext() {
    return this._ctx;
  }

  /** True while a turn runs on the server or its audio still plays. */
  get busy() {
    const t = this._current;
    return !!t && !t.dropped && (t.running || !t.playbackEnded);
  }

  get currentTurnId() {
    return this._current ? this._current.id : null;
  }

  // --- connection -----------------------------------------------------------------------------

  /** Open the socket (and keep it open). Resolves with session.ready. */
  connect() {
    this._closing = false;
    const ready = new Promise((resolve) => this._readyWaiters.push(resolve));
    if (!this._ws && !this._retryTimer) this._open();
    return ready;
  }

  /** Close for good (no reconnect). */
  close(code = 1000, reason = "") {
    this._closing = true;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    const ws = this._ws;
    this._ws = null;
    if (ws) ws.close(code, reason);
    this._endSession();
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

  _open() {
    this._retryTimer = null;
    this._setState(this._attempt > 0 ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.url, PROTOCOL);
    } catch (err) {
      this._emit("error", { code: "connect_failed", message: String(err.message || err) });
      this._scheduleReconnect();
      return;
    }
    ws.binaryType = "arraybuffer";
    this._ws = ws;
    this._lastSeq = 0;
    ws.onopen = () => {
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
      this._onDisconnect(event);
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

  _onDisconnect(event) {
    this._endSession();
    if (this._closing || !this.options.reconnect) {
      this._setState("closed");
      return;
    }
    if (event && event.code && event.code !== 1000 && event.code !== 1001 && event.code !== 1006) {
      this._emit("error", {
        code: "connection_closed",
        message: `the server closed the connection (${event.code}${event.reason ? ` ${event.reason}` : ""})`,
      });
    }
    this._scheduleReconnect();
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
      this._sendJson({ type: "turn.cancel", turn_id: t.id, played_ms: Math.round(played) });
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
    return this._sendJson(message);
  }

  ping(id) {
    return this._sendJson(id === undefined ? { type: "ping" } : { type: "ping", id });
  }

  // --- server → client ------------------------------------------------------------------------

  _checkSeq(seq) {
    if (typeof seq !== "number") return;
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
    this._checkSeq(m.seq);
    switch (m.type) {
      case "session.ready":
        this._silenceAll();
        this._turns.clear();
        this._current = null;
        this._attempt = 0;
        this.session = m;
        if (m.audio) this.audioFormat = m.audio;
        this._emit("ready", m);
        for (const resolve of this._readyWaiters.splice(0)) resolve(m);
        break;
      case "session.updated":
        this.session = { ...this.session, ...m };
        if (m.audio) this.audioFormat = m.audio;
        this._emit("session", m);
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
        break;
      case "pong":
        this._emit("pong", m);
        break;
      default:
        break; // unknown server types are ignored (PROTOCOL.md §6)
    }
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
        rate: this.audioFormat.sample_rate,
        records: [], // buffer records of this turn (also in `timeline`)
        segments: new Map(), // segment_id → {chunks: [{offset, start, samples}], ...}
        pending: 0, // scheduled buffers not yet ended
        frozenPlayed: null,
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
    t.rate = this.audioFormat.sample_rate;
    this._current = t;
    this._emit("turnStart", m);
  }

  _onTurnEnd(m) {
    const t = this._turn(m.turn_id);
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
    if (frame.codec !== CODEC.PCM16) {
      const name = CODEC_NAMES[frame.codec];
      if (!this._codecWarned.has(name)) {
        this._codecWarned.add(name);
        this._emit("error", {
          code: "unsupported_codec",
          message: `this client cannot play ${name} audio yet; the reply continues as text`,
          turn_id: frame.turnId,
        });
      }
      return;
    }
    const t = this._turns.get(frame.turnId);
    if (!t || t.dropped || t !== this._current) return;
    const samples = pcm16ToFloat32(frame.payload);
    this.stats.receivedSamples += samples.length;
    let seg = t.segments.get(frame.segmentId);
    if (!seg) {
      seg = { chunks: [], char_start: null, counted: false };
      t.segments.set(frame.segmentId, seg);
    }
    if (samples.length === 0) return;
    this._schedule(t, seg, frame, samples);
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
    t.frozenPlayed = this._playedAt(t, now);
    if (this._current === t) this._nextTime = 0;
    return t.frozenPlayed;
  }

  _silenceAll() {
    for (const t of this._turns.values()) {
      if (t.playbackEnded) continue;
      if (t.pending > 0 && !t.dropped) this._dropAudio(t);
      if (t.dropped || !t.running) this._finishPlayback(t);
    }
  }

  _finishPlayback(t) {
    if (t.playbackEnded) return;
    t.playbackEnded = true;
    this._emit("playbackEnd", { turn_id: t.id, played_ms: Math.round(this.playedMs(t.id)) });
  }

  _maybeFinishPlayback(t) {
    if (t.ended && t.pending === 0 && !this._words.some((w) => w.turn_id === t.id)) {
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
