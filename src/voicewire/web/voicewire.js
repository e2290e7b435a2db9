// voicewire.js — the browser client of voicewire.v1, in one file for pages without a build
// step: import { VoicewireClient } from "/voicewire.js". BUILT from clients/js/src (edit those
// modules, then run `make js`); the same code is the npm package @voicewire/client.

// src/frames.js
var PROTOCOL = "voicewire.v1";
var HEADER_SIZE = 20;
var KIND = Object.freeze({ SPEECH: 1, MICROPHONE: 2 });
var FLAGS = Object.freeze({ SEGMENT_START: 1, SEGMENT_END: 2 });
var CODEC = Object.freeze({ PCM16: 0, OPUS: 1, MP3: 2 });
var CODEC_NAMES = Object.freeze({ 0: "pcm16", 1: "opus", 2: "mp3" });
var KNOWN_FLAGS = FLAGS.SEGMENT_START | FLAGS.SEGMENT_END;
var OPUS_RATE = 48e3;
var OPUS_PACKET_US = 2e4;
function toBytes(data) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("expected an ArrayBuffer or a typed array");
}
function decodeFrame(data) {
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
    payload: bytes.subarray(HEADER_SIZE)
  };
}
function checkUint(name, value, max) {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${name} must be an integer in [0, ${max}], got ${value}`);
  }
  return value;
}
function encodeFrame({
  version = 1,
  kind = KIND.SPEECH,
  flags = 0,
  codec = CODEC.PCM16,
  seq = 0,
  turnId = 0,
  segmentId = 0,
  sampleOffset = 0,
  reserved = 0,
  payload = new Uint8Array(0)
} = {}) {
  const body = toBytes(payload);
  const out = new Uint8Array(HEADER_SIZE + body.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, checkUint("version", version, 255));
  view.setUint8(1, checkUint("kind", kind, 255));
  view.setUint8(2, checkUint("flags", flags, 255));
  view.setUint8(3, checkUint("codec", codec, 255));
  view.setUint32(4, checkUint("seq", seq, 4294967295), true);
  view.setUint32(8, checkUint("turnId", turnId, 4294967295), true);
  view.setUint16(12, checkUint("segmentId", segmentId, 65535), true);
  view.setUint16(14, checkUint("reserved", reserved, 65535), true);
  view.setUint32(16, checkUint("sampleOffset", sampleOffset, 4294967295), true);
  out.set(body, HEADER_SIZE);
  return out.buffer;
}
function pcm16ToFloat32(bytes) {
  const b = toBytes(bytes);
  const n = b.byteLength >> 1;
  const view = new DataView(b.buffer, b.byteOffset, n * 2);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true) / 32768;
  return out;
}
function opusRecords(bytes) {
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
function opusPreSkip(head) {
  const magic = String.fromCharCode(...head.subarray(0, 8));
  if (head.byteLength < 19 || magic !== "OpusHead") throw new Error("missing OpusHead");
  return head[10] | head[11] << 8;
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
function codePointRangeToUtf16(text, start, end) {
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
    i += /** @type {number} */
    text.codePointAt(i) > 65535 ? 2 : 1;
    cp += 1;
  }
  return [s, e];
}

// src/policy.js
var RESUMABLE_CLOSE_CODES = /* @__PURE__ */ new Set([1001, 1006, 1011, 1012, 1013, 4001]);
function isResumableClose(code) {
  return RESUMABLE_CLOSE_CODES.has(code);
}
function isReportedClose(code) {
  return code !== 1e3 && code !== 1001 && code !== 1006;
}
function backoffDelay(attempt, { backoffMs, maxBackoffMs }, random = Math.random) {
  const base = Math.min(maxBackoffMs, backoffMs * 2 ** attempt);
  return Math.round(base * (0.8 + 0.4 * random()));
}

// src/session.js
function resolveUrl(url) {
  return new URL(url, globalThis.location && globalThis.location.href);
}
var Session = class {
  /**
   * @param {string} url
   * @param {SessionOptions} options
   * @param {SessionHooks} hooks
   */
  constructor(url, options, hooks) {
    this.url = url;
    this.options = options;
    this.hooks = hooks;
    this._ws = null;
    this._closing = false;
    this._attempt = 0;
    this._retryTimer = null;
    this._probing = false;
    this._lastSeq = 0;
    let query;
    try {
      query = resolveUrl(url).searchParams;
    } catch {
      query = new URLSearchParams();
    }
    this.token = options.token || query.get("token") || null;
    this.conversationId = options.conversation || query.get("conversation") || null;
    this._guestToken = false;
    this.resumeToken = null;
    this._sessionOpen = false;
    this._droppedAt = null;
    this._pendingCancel = null;
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
  close(code = 1e3, reason = "") {
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
    return !!this.options.resume && !!this.resumeToken && !!this.token && this._lastSeq > 0 && isResumableClose(code);
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
      this._abandon();
    }
    const resume = this._droppedAt !== null && this.canResume(1006);
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
    const code = event && event.code || 1006;
    if (this._closing || !this.options.reconnect) {
      this._abandon();
      this.hooks.state("closed");
      return;
    }
    if (isReportedClose(code)) {
      const reason = event && event.reason ? ` ${event.reason}` : "";
      this.hooks.error({
        code: "connection_closed",
        message: `the server closed the connection (${code}${reason})`
      });
    }
    if (!this.canResume(code)) {
      this._abandon();
    } else if (this._droppedAt === null) {
      this._droppedAt = Date.now();
      this.hooks.disconnected({ code, last_seq: this._lastSeq });
    }
    if (!opened && (this.resumeToken || this.conversationId || this._guestToken)) {
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
    const signal = globalThis.AbortSignal && AbortSignal.timeout ? AbortSignal.timeout(5e3) : void 0;
    return fetch(probe.href, { mode: "no-cors", cache: "no-store", signal }).then(
      () => true,
      () => false
    );
  }
  // A handshake the server refused: ask for less next time, one thing at a time.
  _fallBack() {
    if (this.resumeToken) {
      this._abandon();
      this.hooks.error({
        code: "resume_refused",
        message: "the session could not be resumed; a new one starts"
      });
    } else if (this.conversationId) {
      this.conversationId = null;
    } else if (this._guestToken) {
      this.token = null;
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
      this._lastSeq = 0;
    } else if (type === "session.resumed") {
      if (seq !== this._lastSeq) {
        this.hooks.error({
          code: "seq_gap",
          message: `session resumed at seq ${seq}, the last frame processed was ${this._lastSeq}`
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
    this.hooks.ended();
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
    if (cancel) this.sendJson(cancel);
    m.last_seq = this._lastSeq;
  }
};
function errorMessage(err) {
  return String(err && /** @type {{message?: string}} */
  err.message || err);
}

// src/decoders.js
function enqueue(sink, t, job) {
  t.jobs += 1;
  t.chain = (t.chain || Promise.resolve()).then(() => t.dropped ? void 0 : job()).catch((err) => sink.error({ code: "decode_failed", message: errorMessage(err), turn_id: t.id })).then(() => {
    t.jobs -= 1;
    sink.jobDone(t);
  });
}
function segmentSamples(seg) {
  if (seg.endSamples !== void 0) return Promise.resolve(seg.endSamples);
  return new Promise((resolve) => (seg.endWaiters || (seg.endWaiters = [])).push(resolve));
}
function releaseSegment(seg, samples) {
  if (seg.endSamples !== void 0) return;
  seg.endSamples = samples;
  for (const resolve of seg.endWaiters || []) resolve(samples);
  seg.endWaiters = null;
}
function onOpus(sink, t, seg, frame) {
  let records;
  try {
    records = opusRecords(frame.payload);
    const head = frame.flags & FLAGS.SEGMENT_START ? records.shift() : void 0;
    if (head) seg.opus = opusDecoder(sink, t, opusPreSkip(head));
  } catch (err) {
    sink.error({ code: "invalid_frame", message: errorMessage(err), turn_id: t.id });
    return;
  }
  t.rate = OPUS_RATE;
  const op = seg.opus;
  const last = (frame.flags & FLAGS.SEGMENT_END) !== 0;
  const decoded = op ? decodeOpus(sink, op, records, last) : Promise.resolve(new Float32Array(0));
  enqueue(sink, t, async () => {
    let pcm = await decoded;
    if (op && op.skip > 0) {
      const skip = Math.min(op.skip, pcm.length);
      op.skip -= skip;
      pcm = pcm.subarray(skip);
    }
    if (last) {
      const total = await segmentSamples(seg);
      if (total !== null) pcm = pcm.subarray(0, Math.max(0, total - frame.sampleOffset));
    }
    sink.play(t, seg, frame, pcm);
  });
}
function opusDecoder(sink, t, preSkip) {
  const op = {
    skip: preSkip,
    timestamp: 0,
    outputs: [],
    waiters: [],
    decoder: new AudioDecoder({
      output: (data) => {
        const pcm = new Float32Array(data.numberOfFrames);
        data.copyTo(pcm, { planeIndex: 0, format: "f32-planar" });
        data.close();
        op.outputs.push(pcm);
        drainOpus(op);
      },
      error: (err) => {
        sink.error({ code: "decode_failed", message: err.message, turn_id: t.id });
        closeOpus(op);
      }
    })
  };
  op.decoder.configure({ codec: "opus", sampleRate: OPUS_RATE, numberOfChannels: 1 });
  return op;
}
function decodeOpus(sink, op, packets, last) {
  if (op.decoder.state !== "configured") return Promise.resolve(new Float32Array(0));
  const done = new Promise((resolve) => op.waiters.push({ count: packets.length, resolve }));
  try {
    for (const data of packets) {
      op.decoder.decode(new EncodedAudioChunk({ type: "key", timestamp: op.timestamp, data }));
      op.timestamp += OPUS_PACKET_US;
    }
    if (last) op.decoder.flush().then(() => closeOpus(op), () => closeOpus(op));
  } catch (err) {
    sink.error({ code: "decode_failed", message: errorMessage(err) });
    closeOpus(op);
  }
  drainOpus(op);
  return done;
}
function drainOpus(op) {
  while (op.waiters.length && op.outputs.length >= op.waiters[0].count) {
    const waiter = (
      /** @type {OpusState["waiters"][number]} */
      op.waiters.shift()
    );
    waiter.resolve(concatFloat32(op.outputs.splice(0, waiter.count)));
  }
}
function closeOpus(op) {
  if (op.decoder.state !== "closed") op.decoder.close();
  for (const { resolve } of op.waiters.splice(0)) {
    resolve(concatFloat32([new Float32Array(0), ...op.outputs.splice(0)]));
  }
}
function onMp3(sink, t, seg, frame) {
  (seg.mp3 || (seg.mp3 = [])).push(frame.payload.slice());
  if (!(frame.flags & FLAGS.SEGMENT_END)) return;
  const bytes = concatBytes(seg.mp3);
  seg.mp3 = null;
  const decoded = bytes.byteLength === 0 ? Promise.resolve(new Float32Array(0)) : Promise.resolve().then(() => new OfflineAudioContext(1, 1, t.rate).decodeAudioData(bytes.buffer)).then((buffer) => buffer.getChannelData(0));
  decoded.catch(() => {
  });
  enqueue(sink, t, async () => {
    let pcm = await decoded;
    const total = await segmentSamples(seg);
    if (total !== null) pcm = pcm.subarray(0, total);
    sink.play(t, seg, { segmentId: frame.segmentId, sampleOffset: 0 }, pcm);
  });
}

// src/timing.js
function placeBuffer(nextTime, now, { minLead, startLead }) {
  if (nextTime >= now + minLead) return { start: nextTime, late: false };
  return { start: now + startLead, late: true };
}
function timeOfSample(chunks, sample, rate) {
  let chunk = chunks[0];
  for (const c of chunks) {
    if (c.offset <= sample) chunk = c;
    else break;
  }
  return chunk.start + (sample - chunk.offset) / rate;
}
function underrunOf(nextTime, start, records) {
  const silence = Math.round((start - nextTime) * 1e3);
  if (!(silence >= 1)) return null;
  const at = records.reduce((s, r) => s + r.samples / r.rate, 0);
  return { silence_ms: Math.min(silence, 6e4), at_ms: Math.round(at * 1e3) };
}
function playedSeconds(records, now) {
  let s = 0;
  for (const r of records) {
    const end = r.stopped_at === null ? r.end : Math.min(r.end, r.stopped_at);
    s += Math.max(0, Math.min(now, end) - r.start);
  }
  return s;
}
function insertByTime(list, item) {
  let i = list.length;
  while (i > 0 && list[i - 1].time > item.time) i--;
  list.splice(i, 0, item);
}

// src/player.js
var Player = class {
  /**
   * @param {PlayerOptions} options
   * @param {PlayerHost} host
   */
  constructor(options, host) {
    this.options = options;
    this.host = host;
    this.ctx = null;
    this.output = null;
    this.stats = { receivedSamples: 0, playedSamples: 0, scheduledSegments: 0, underruns: 0 };
    this.timeline = [];
    this._playing = [];
    this._words = [];
    this._nextTime = 0;
    this._ticker = null;
  }
  /**
   * Create (on first use) and resume the AudioContext. Call it from a user gesture.
   * @returns {Promise<AudioContext | null>}
   */
  resumeAudio() {
    const Ctx = globalThis.AudioContext || /** @type {any} */
    globalThis.webkitAudioContext;
    if (!Ctx) return Promise.resolve(null);
    if (!this.ctx) {
      const want = this.options.contextSampleRate;
      const rate = want === "stream" ? this.host.streamRate() : want;
      try {
        this.ctx = rate ? new Ctx({ sampleRate: rate, latencyHint: "interactive" }) : new Ctx();
      } catch {
        this.ctx = new Ctx();
      }
      this.output = this.ctx.createGain();
      this.output.connect(this.ctx.destination);
    }
    const ctx = this.ctx;
    if (ctx.state !== "running" && ctx.state !== "closed") {
      return ctx.resume().then(
        () => ctx,
        () => ctx
      );
    }
    return Promise.resolve(ctx);
  }
  /** The audio clock (s): what has been rendered. */
  get currentTime() {
    return this.ctx ? this.ctx.currentTime : 0;
  }
  /** The audio clock minus the output latency: what the listener hears now. */
  get heardTime() {
    const ctx = this.ctx;
    if (!ctx) return 0;
    return ctx.currentTime - (ctx.outputLatency || ctx.baseLatency || 0);
  }
  /**
   * Play decoded samples of a turn (unless it was stopped or replaced meanwhile).
   * @param {Turn} t
   * @param {Segment} seg
   * @param {{segmentId: number, sampleOffset: number}} frame
   * @param {Float32Array} samples
   */
  play(t, seg, frame, samples) {
    if (t.dropped || t !== this.host.current()) return;
    this.stats.receivedSamples += samples.length;
    if (samples.length > 0) this._schedule(t, seg, frame, samples);
  }
  /**
   * @param {Turn} t
   * @param {Segment} seg
   * @param {{segmentId: number, sampleOffset: number}} frame
   * @param {Float32Array} samples
   */
  _schedule(t, seg, frame, samples) {
    this.resumeAudio();
    const ctx = this.ctx;
    if (!ctx || !this.output) return;
    const buffer = ctx.createBuffer(1, samples.length, t.rate);
    buffer.copyToChannel(
      /** @type {Float32Array<ArrayBuffer>} */
      samples,
      0
    );
    const { start, late } = placeBuffer(this._nextTime, ctx.currentTime, this.options);
    if (late && t.records.length > 0) {
      this.stats.underruns += 1;
      const gap = underrunOf(this._nextTime, start, t.records);
      if (gap) this.host.emit("underrun", { turn_id: t.id, ...gap });
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
      stopped_at: null
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
  /**
   * ms of a turn's audio played so far (measured on the audio clock).
   * @param {Turn} t
   */
  playedMs(t) {
    if (t.frozenPlayed !== null) return t.frozenPlayed;
    return playedSeconds(t.records, this.currentTime) * 1e3;
  }
  /**
   * A segment's words, timed on the audio clock once its audio is scheduled (segment.end).
   * @param {Turn} t
   * @param {ServerMessage} m segment.end
   * @returns {number | null} where the segment starts on the audio clock
   */
  segmentEnded(t, m) {
    const seg = t.segments.get(m.segment_id);
    const first = seg && seg.chunks[0];
    if (!seg || !first) return null;
    if (Array.isArray(m.words)) {
      m.words.forEach((w, index) => {
        const sample = Math.round(w.start_ms * t.rate / 1e3);
        const [start16, end16] = codePointRangeToUtf16(t.text, w.char_start, w.char_end);
        insertByTime(this._words, {
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
          time: timeOfSample(seg.chunks, sample, t.rate)
        });
      });
      this._ensureTicker();
    }
    return first.start - first.offset / t.rate;
  }
  /**
   * Stop every source of turn `t` now; returns the ms of it that played.
   * @param {Turn} t
   */
  dropAudio(t) {
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
        this.stats.playedSamples += p.record.samples;
        p.turn.pending -= 1;
        p.node.disconnect();
        continue;
      }
      try {
        p.node.stop();
      } catch {
      }
      p.node.disconnect();
      p.record.stopped_at = now;
      t.pending -= 1;
    }
    this._playing = keep;
    this._words = this._words.filter((w) => w.turn_id !== t.id);
    for (const seg of t.segments.values()) {
      if (seg.opus) closeOpus(seg.opus);
      releaseSegment(seg, null);
    }
    t.frozenPlayed = playedSeconds(t.records, now) * 1e3;
    if (this.host.current() === t) this._nextTime = 0;
    return t.frozenPlayed;
  }
  /**
   * Silence every turn still playing (the session is gone).
   * @param {Iterable<Turn>} turns
   */
  silence(turns) {
    for (const t of turns) {
      if (t.playbackEnded) continue;
      if ((t.pending > 0 || t.jobs > 0) && !t.dropped) this.dropAudio(t);
      if (t.dropped || !t.running) this.finishPlayback(t);
    }
  }
  /** @param {Turn} t */
  finishPlayback(t) {
    if (t.playbackEnded) return;
    t.playbackEnded = true;
    this.host.emit("playbackEnd", { turn_id: t.id, played_ms: Math.round(this.playedMs(t)) });
  }
  /** @param {Turn} t */
  maybeFinishPlayback(t) {
    const idle = t.pending === 0 && t.jobs === 0;
    if (t.ended && idle && !this._words.some((w) => w.turn_id === t.id)) {
      if (!t.dropped) t.frozenPlayed = playedSeconds(t.records, this.currentTime) * 1e3;
      this.finishPlayback(t);
    }
  }
  /** Stop the ticker and close the AudioContext. */
  destroy() {
    if (this._ticker !== null) clearInterval(this._ticker);
    this._ticker = null;
    if (this.ctx) this.ctx.close();
    this.ctx = null;
  }
  _ensureTicker() {
    if (this._ticker === null) this._ticker = setInterval(() => this._tick(), 15);
  }
  _tick() {
    const ctx = this.ctx;
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
        this.host.emit("word", this._words.shift());
      }
    }
    const t = this.host.current();
    if (t && !t.playbackEnded) this.maybeFinishPlayback(t);
    if (!this._playing.length && !this._words.length && this._ticker !== null) {
      clearInterval(this._ticker);
      this._ticker = null;
    }
  }
};

// src/turns.js
var KEPT_TURNS = 16;
function canPlay(codec) {
  if (codec === CODEC.OPUS) return typeof globalThis.AudioDecoder === "function";
  if (codec === CODEC.MP3) return typeof globalThis.OfflineAudioContext === "function";
  return codec === CODEC.PCM16;
}
var Turns = class {
  /**
   * @param {Player} player
   * @param {(type: keyof VoicewireEventMap, detail: any) => void} emit
   * @param {() => import("./types.js").AudioFormat} format the stream's format now
   */
  constructor(player, emit, format) {
    this.player = player;
    this.emit = emit;
    this.format = format;
    this.all = /* @__PURE__ */ new Map();
    this.current = null;
    this._codecWarned = /* @__PURE__ */ new Set();
    this.sink = {
      play: (t, seg, frame, samples) => player.play(t, seg, frame, samples),
      error: (d) => emit("error", d),
      jobDone: (t) => {
        if (t.ended) player.maybeFinishPlayback(t);
      }
    };
  }
  /** True while a turn runs on the server or its audio still plays. */
  get busy() {
    const t = this.current;
    return !!t && !t.dropped && (t.running || !t.playbackEnded);
  }
  /** A new session: turn ids start again at 1. */
  clear() {
    this.all.clear();
    this.current = null;
  }
  /**
   * @param {number} id
   * @returns {Turn}
   */
  get(id) {
    let t = this.all.get(id);
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
        records: [],
        segments: /* @__PURE__ */ new Map(),
        pending: 0,
        frozenPlayed: null,
        chain: null,
        jobs: 0
      };
      const oldest = this.all.keys().next();
      if (this.all.size > KEPT_TURNS && !oldest.done) this.all.delete(oldest.value);
      this.all.set(id, t);
    }
    return t;
  }
  /** @param {import("./types.js").AudioFormat} [format] */
  _streamRate(format = this.format()) {
    return format.codec === "opus" ? OPUS_RATE : format.sample_rate;
  }
  /**
   * Silence the current turn now. Returns it and the ms of it heard, or null when idle.
   * @returns {{turn: Turn, played_ms: number} | null}
   */
  stop() {
    const t = this.current;
    if (!t || !this.busy) return null;
    const played = Math.round(this.player.dropAudio(t));
    this.player.finishPlayback(t);
    return { turn: t, played_ms: played };
  }
  // The session is gone: the server interrupts its running turn, so the client does too.
  endSession() {
    const t = this.current;
    if (t && t.running && !t.ended) {
      t.running = false;
      t.ended = true;
      t.status = "interrupted";
      this.emit("turnEnd", { turn_id: t.id, status: "interrupted", text: t.text, disconnected: true });
    }
    this.player.silence(this.all.values());
  }
  /** @param {ServerMessage} m turn.start */
  start(m) {
    const prev = this.current;
    if (prev && prev.id !== m.turn_id && !prev.dropped && !prev.playbackEnded) {
      this.player.dropAudio(prev);
      this.player.finishPlayback(prev);
    }
    const t = this.get(m.turn_id);
    t.rate = this._streamRate(m.audio || this.format());
    this.current = t;
    this.emit("turnStart", m);
  }
  /** @param {ServerMessage} m text.delta */
  text(m) {
    const t = this.get(m.turn_id);
    t.text += m.text;
    this.emit("text", { turn_id: m.turn_id, text: t.text, delta: m.text });
  }
  /** @param {ServerMessage} m turn.end */
  end(m) {
    const t = this.get(m.turn_id);
    for (const seg of t.segments.values()) releaseSegment(seg, null);
    t.running = false;
    t.ended = true;
    t.status = m.status;
    if (t.text !== m.text && m.status === "complete") {
      this.emit("error", {
        code: "text_mismatch",
        message: "the text deltas do not add up to the turn's text",
        turn_id: m.turn_id
      });
    }
    this.emit("turnEnd", m);
    this.player.maybeFinishPlayback(t);
  }
  /** @param {ServerMessage} m segment.start */
  segmentStart(m) {
    const t = this.get(m.turn_id);
    if (t.dropped) return;
    if (!t.segments.has(m.segment_id)) {
      t.segments.set(m.segment_id, { chunks: [], char_start: m.char_start, counted: false });
    }
    this.emit("segment", m);
  }
  /** @param {ServerMessage} m segment.end */
  segmentEnd(m) {
    const t = this.get(m.turn_id);
    if (t.dropped) return;
    const ended = () => {
      const startTime = this.player.segmentEnded(t, m);
      this.emit("segment", { ...m, start_time: startTime });
    };
    if (t.chain) {
      const seg = t.segments.get(m.segment_id);
      if (seg) releaseSegment(seg, m.samples);
      enqueue(this.sink, t, ended);
      return;
    }
    ended();
  }
  /** @param {Frame} frame a binary frame from the server */
  frame(frame) {
    if (frame.kind !== KIND.SPEECH) return;
    if (!canPlay(frame.codec)) {
      const name = CODEC_NAMES[frame.codec];
      if (!this._codecWarned.has(name)) {
        this._codecWarned.add(name);
        this.emit("error", {
          code: "unsupported_codec",
          message: `this browser cannot play ${name} audio; the reply continues as text`,
          turn_id: frame.turnId
        });
      }
      return;
    }
    const t = this.all.get(frame.turnId);
    if (!t || t.dropped || t !== this.current) return;
    let seg = t.segments.get(frame.segmentId);
    if (!seg) {
      seg = { chunks: [], char_start: null, counted: false };
      t.segments.set(frame.segmentId, seg);
    }
    if (frame.codec === CODEC.OPUS) onOpus(this.sink, t, seg, frame);
    else if (frame.codec === CODEC.MP3) onMp3(this.sink, t, seg, frame);
    else this.player.play(t, seg, frame, pcm16ToFloat32(frame.payload));
  }
};

// src/client.js
var DEFAULTS = {
  voice: true,
  reconnect: true,
  backoffMs: 500,
  maxBackoffMs: 1e4,
  startLead: 0.1,
  minLead: 0.02,
  // The browser's own rate: Firefox refuses an AudioContext at another rate than the device's
  // (and a microphone on it), and Web Audio resamples each buffer anyway.
  contextSampleRate: null,
  codec: "pcm16",
  sampleRate: null,
  timelineLimit: 5e3,
  autoUnlock: true,
  token: null,
  conversation: null,
  resume: true,
  resumeWindowMs: 15e4
  // resume_grace_s + resume_ttl_s of the server
};
var GESTURES = ["pointerdown", "keydown", "touchend", "click"];
function newId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return `m-${c.randomUUID()}`;
  return `m-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
function defaultUrl(path = "/ws") {
  const loc = globalThis.location;
  const scheme = loc.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${loc.host}${path}`;
}
var VoicewireClient = class extends EventTarget {
  /**
   * @param {string} [url] the /ws URL (default: this page's host)
   * @param {VoicewireOptions} [options]
   */
  constructor(url, options = {}) {
    super();
    this.url = url || defaultUrl();
    this.options = { ...DEFAULTS, ...options };
    this.state = "closed";
    this.session = null;
    this.audioFormat = { codec: "pcm16", sample_rate: 22050, channels: 1 };
    this._readyWaiters = [];
    this._formatPending = false;
    this._settings = {};
    this.player = new Player(this.options, {
      emit: (type, detail) => this._fromPlayer(type, detail),
      current: () => this.turns.current,
      streamRate: () => this.audioFormat.sample_rate
    });
    this.turns = new Turns(this.player, (type, detail) => this._emit(type, detail), () => this.audioFormat);
    this.connection = new Session(this.url, this.options, {
      state: (state) => this._setState(state),
      message: (m) => this._onMessage(m),
      frame: (f) => this.turns.frame(f),
      error: (d) => this._emit("error", d),
      disconnected: (d) => this._emit("disconnected", d),
      ended: () => this.turns.endSession()
    });
    this._onGesture = () => this.resumeAudio();
    this._onVisibility = () => {
      if (document.visibilityState === "visible" && this.player.ctx) this.resumeAudio();
    };
    if (this.options.autoUnlock && typeof window !== "undefined") {
      for (const type of GESTURES) {
        window.addEventListener(type, this._onGesture, { capture: true, passive: true });
      }
      document.addEventListener("visibilitychange", this._onVisibility);
    }
  }
  /**
   * Subscribe to an event; `fn` gets the detail. Returns an unsubscribe function.
   * @template {keyof VoicewireEventMap} K
   * @param {K} type
   * @param {(detail: VoicewireEventMap[K], event: CustomEvent<VoicewireEventMap[K]>) => void} fn
   * @returns {() => void}
   */
  on(type, fn) {
    const listener = (e) => {
      const ce = (
        /** @type {CustomEvent<VoicewireEventMap[K]>} */
        e
      );
      fn(ce.detail, ce);
    };
    this.addEventListener(type, listener);
    return () => this.removeEventListener(type, listener);
  }
  /** @private
   * @param {"word" | "playbackEnd" | "error" | "underrun"} type
   * @param {any} detail
   * @returns {void}
   */
  _fromPlayer(type, detail) {
    if (type === "underrun") this.sendJson({ type: "playback.underrun", ...detail });
    this._emit(type, detail);
  }
  /** @private
   * @param {keyof VoicewireEventMap} type
   * @param {unknown} detail
   */
  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
  /** @private @param {ConnectionState} state */
  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this._emit("state", { state });
  }
  /** The WebSocket of the running session (read-only use), or null (also while it reconnects). */
  get socket() {
    return this.connection.socket;
  }
  /** The seq of the last frame processed (what a resume asks the server to continue after). */
  get lastSeq() {
    return this.connection.lastSeq;
  }
  /** True while a dropped session waits to be resumed (its turn and audio go on meanwhile). */
  get resuming() {
    return this.connection.resuming;
  }
  get token() {
    return this.connection.token;
  }
  get conversationId() {
    return this.connection.conversationId;
  }
  get resumeToken() {
    return this.connection.resumeToken;
  }
  get audioContext() {
    return this.player.ctx;
  }
  /** The GainNode every source goes through (connect analysers here); null before audio. */
  get output() {
    return this.player.output;
  }
  get stats() {
    return this.player.stats;
  }
  /** Every buffer scheduled (the last `timelineLimit`), for tests and debugging. */
  get timeline() {
    return this.player.timeline;
  }
  /** The audio clock (s). */
  get currentTime() {
    return this.player.currentTime;
  }
  /** The audio clock minus the output latency: what the listener hears now. */
  get heardTime() {
    return this.player.heardTime;
  }
  /** True while a turn runs on the server or its audio still plays. */
  get busy() {
    return this.turns.busy;
  }
  get currentTurnId() {
    return this.turns.current ? this.turns.current.id : null;
  }
  /**
   * Open the socket (and keep it open). Resolves with session.ready once the asked-for codec
   * is in force.
   * @returns {Promise<ServerMessage | null>}
   */
  connect() {
    const ready = new Promise((resolve) => this._readyWaiters.push(resolve));
    this.connection.open();
    return ready;
  }
  /**
   * Close for good (no reconnect, no resume). A running turn is cancelled first (with the ms
   * heard), so the server does not finish a reply nobody will come back for (PROTOCOL.md §8).
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code = 1e3, reason = "") {
    if (this.connection.connected) this.stop();
    this.connection.close(code, reason);
  }
  /** Close, stop audio and remove the global listeners. */
  destroy() {
    this.close();
    if (typeof window !== "undefined") {
      for (const type of GESTURES) {
        window.removeEventListener(type, this._onGesture, { capture: true });
      }
      document.removeEventListener("visibilitychange", this._onVisibility);
    }
    this.player.destroy();
  }
  /** Create (on first use) and resume the AudioContext. Call it from a user gesture. */
  resumeAudio() {
    return this.player.resumeAudio();
  }
  /**
   * ms of a turn's audio played so far (measured on the audio clock).
   * @param {number | null} [turnId]
   */
  playedMs(turnId = this.currentTurnId) {
    const t = turnId === null ? void 0 : this.turns.all.get(turnId);
    return t ? this.player.playedMs(t) : 0;
  }
  /**
   * Send any client message of the protocol (PROTOCOL.md §5); false when not connected.
   * @param {{type: string, [field: string]: unknown}} message
   */
  sendJson(message) {
    return this.connection.sendJson(message);
  }
  /** @deprecated use sendJson @param {{type: string, [field: string]: unknown}} message */
  _sendJson(message) {
    return this.sendJson(message);
  }
  /**
   * Send a user message; returns its id (or null when not connected). `voice_name` and `rate`
   * speak its reply alone in that voice and at that rate.
   * @param {string} text
   * @param {{voice?: boolean, id?: string, voice_name?: string, rate?: number}} [options]
   * @returns {string | null}
   */
  send(text, { voice = this.options.voice, id = newId(), voice_name, rate } = {}) {
    if (this.busy) this.stop();
    if (voice) this.resumeAudio();
    const message = { type: "user.message", id, text, voice: !!voice };
    if (voice_name !== void 0) message.voice_name = voice_name;
    if (rate !== void 0) message.rate = rate;
    return this.sendJson(message) ? id : null;
  }
  /**
   * Silence the current turn at once, and cancel it on the server if it still runs.
   * @returns {{turn_id: number, played_ms: number} | null} null when nothing played or ran
   */
  stop() {
    const stopped = this.turns.stop();
    if (!stopped) return null;
    const { turn, played_ms } = stopped;
    if (turn.running) {
      this.connection.sendCancel({ type: "turn.cancel", turn_id: turn.id, played_ms });
    }
    return { turn_id: turn.id, played_ms };
  }
  /**
   * Change the speech settings of the turns that start afterwards (session.update).
   * @param {{voice?: boolean, voice_name?: string, rate?: number}} [settings]
   */
  setVoice({ voice, voice_name, rate } = {}) {
    const fields = {};
    if (voice !== void 0) fields.voice = this.options.voice = !!voice;
    if (voice_name !== void 0) fields.voice_name = voice_name;
    if (rate !== void 0) fields.rate = rate;
    Object.assign(this._settings, fields);
    return this.sendJson({ type: "session.update", ...fields });
  }
  /**
   * Ask for another codec and/or rate (for the turns that start afterwards).
   * @param {{codec?: import("./types.js").CodecName, sampleRate?: number}} [format]
   */
  setFormat({ codec, sampleRate } = {}) {
    const fields = {};
    if (codec !== void 0) fields.codec = this.options.codec = codec;
    if (sampleRate !== void 0) fields.sample_rate = this.options.sampleRate = sampleRate;
    return this.sendJson({ type: "session.update", ...fields });
  }
  /** @param {string} [id] */
  ping(id) {
    return this.sendJson(id === void 0 ? { type: "ping" } : { type: "ping", id });
  }
  // After session.ready: ask for the codec/rate of the options and the settings of setVoice()
  // the new session does not have yet; true when an update was sent.
  /** @private */
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
    this._formatPending = this.sendJson({ type: "session.update", ...want });
    return this._formatPending;
  }
  /** @private @param {ServerMessage | null} m */
  _resolveReady(m) {
    this._formatPending = false;
    for (const resolve of this._readyWaiters.splice(0)) resolve(m);
  }
  /** @private @param {ServerMessage} m */
  _onMessage(m) {
    switch (m.type) {
      case "session.ready":
        this.turns.clear();
        this.session = m;
        if (m.audio) this.audioFormat = m.audio;
        this._emit("ready", m);
        if (!this._requestFormat()) this._resolveReady(m);
        break;
      case "session.resumed":
        this._emit("resumed", m);
        if (!this._formatPending) this._resolveReady(this.session);
        break;
      case "session.updated":
        this.session = { ...this.session, ...m };
        if (m.audio) this.audioFormat = m.audio;
        this._emit("session", m);
        if (this._formatPending) this._resolveReady(this.session);
        break;
      case "turn.start":
        this.turns.start(m);
        break;
      case "text.delta":
        this.turns.text(m);
        break;
      case "data":
        this._emit("data", m);
        break;
      case "segment.start":
        this.turns.segmentStart(m);
        break;
      case "segment.end":
        this.turns.segmentEnd(m);
        break;
      case "turn.end":
        this.turns.end(m);
        break;
      case "error":
        this._emit("error", m);
        if (this._formatPending && !m.turn_id) this._resolveReady(this.session);
        break;
      case "pong":
        this._emit("pong", m);
        break;
      case "input_audio.speech_started":
        if (this.busy) this.stop();
        this._emit("speechStarted", m);
        break;
      case "input_audio.transcript":
        this._emit("transcript", m);
        break;
      case "notice":
        this._emit("notice", m);
        break;
      case "tool.call":
        this._emit("toolCall", m);
        break;
      case "tool.result":
        this._emit("toolResult", m);
        break;
      default:
        break;
    }
  }
};

// src/microphone.js
var MIC_RATE = 16e3;
var FRAME_SAMPLES = MIC_RATE / 50;
var WORKLET = `
class Downsampler extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.step = sampleRate / options.processorOptions.rate;
    this.frame = options.processorOptions.frame;
    this.out = new Int16Array(this.frame);
    this.n = 0;
    this.acc = 0;
    this.count = 0;
    this.pos = 0;
  }
  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    for (let i = 0; i < input.length; i++) {
      this.acc += input[i];
      this.count += 1;
      this.pos += 1;
      if (this.pos >= this.step) {
        this.pos -= this.step;
        const v = Math.max(-1, Math.min(1, this.acc / this.count));
        this.out[this.n++] = v < 0 ? v * 0x8000 : v * 0x7fff;
        this.acc = 0;
        this.count = 0;
        if (this.n === this.frame) {
          this.port.postMessage(this.out.buffer, [this.out.buffer]);
          this.out = new Int16Array(this.frame);
          this.n = 0;
        }
      }
    }
    return true;
  }
}
registerProcessor("voicewire-downsampler", Downsampler);
`;
var Microphone = class extends EventTarget {
  /**
   * @param {import("./client.js").VoicewireClient} client
   * @param {{end?: MicrophoneEnd, voice?: boolean}} [options]
   */
  constructor(client, { end = "vad", voice = true } = {}) {
    super();
    this.client = client;
    this.end = end;
    this.voice = voice;
    this.active = false;
    this.sentFrames = 0;
    this._seq = 0;
    this._unsubscribe = [];
    this.ctx = null;
    this.stream = null;
    this.source = null;
    this.node = null;
  }
  /** Ask for the microphone (call it from a user gesture) and stream it until stop(). */
  async start() {
    if (this.active) return;
    const ctx = this.ctx = await this.client.resumeAudio() || new AudioContext();
    const stream = this.stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        echoCancellation: true,
        noiseSuppression: false,
        autoGainControl: false,
        channelCount: 1
      }
    });
    const url = URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" }));
    try {
      await ctx.audioWorklet.addModule(url);
    } finally {
      URL.revokeObjectURL(url);
    }
    const source = this.source = ctx.createMediaStreamSource(stream);
    const node = this.node = new AudioWorkletNode(ctx, "voicewire-downsampler", {
      processorOptions: { rate: MIC_RATE, frame: FRAME_SAMPLES }
    });
    node.port.onmessage = (event) => this._send(event.data);
    source.connect(node);
    this._announce();
    const again = () => this.active && this._announce();
    this._unsubscribe = [this.client.on("ready", again), this.client.on("resumed", again)];
    this.active = true;
    this.dispatchEvent(new CustomEvent("state", { detail: { active: true } }));
  }
  _announce() {
    this.client.sendJson({
      type: "input_audio.start",
      sample_rate: MIC_RATE,
      end: this.end,
      voice: this.voice
    });
  }
  /** @param {ArrayBuffer} buffer 20 ms of 16 kHz pcm16 */
  _send(buffer) {
    const socket = this.client.socket;
    if (!this.active || !socket || socket.readyState !== WebSocket.OPEN) return;
    this._seq = this._seq + 1 >>> 0;
    socket.send(
      encodeFrame({ kind: KIND.MICROPHONE, codec: CODEC.PCM16, seq: this._seq, payload: buffer })
    );
    this.sentFrames += 1;
  }
  /** Stop streaming; the server ends the utterance now. */
  stop() {
    if (!this.active) return;
    this.active = false;
    for (const off of this._unsubscribe.splice(0)) off();
    this.client.sendJson({ type: "input_audio.stop" });
    if (this.node) {
      this.node.port.onmessage = null;
      this.node.disconnect();
    }
    if (this.source) this.source.disconnect();
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.dispatchEvent(new CustomEvent("state", { detail: { active: false } }));
  }
};
export {
  CODEC,
  CODEC_NAMES,
  DEFAULTS,
  FLAGS,
  HEADER_SIZE,
  KIND,
  MIC_RATE,
  Microphone,
  OPUS_RATE,
  PROTOCOL,
  Player,
  RESUMABLE_CLOSE_CODES,
  Session,
  VoicewireClient,
  backoffDelay,
  codePointRangeToUtf16,
  decodeFrame,
  VoicewireClient as default,
  defaultUrl,
  encodeFrame,
  insertByTime,
  isResumableClose,
  opusPreSkip,
  opusRecords,
  pcm16ToFloat32,
  placeBuffer,
  playedSeconds,
  timeOfSample
};
