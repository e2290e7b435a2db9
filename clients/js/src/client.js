// @ts-check
// VoicewireClient: the facade an app uses, and its events. session.js owns the socket and
// resuming, turns.js the turns, player.js the audio, decoders.js the compressed speech.
import { Player } from "./player.js";
import { Session } from "./session.js";
import { Turns } from "./turns.js";

/** @typedef {import("./types.js").VoicewireOptions} VoicewireOptions */
/** @typedef {import("./types.js").ResolvedOptions} ResolvedOptions */
/** @typedef {import("./types.js").VoicewireEventMap} VoicewireEventMap */
/** @typedef {import("./types.js").ServerMessage} ServerMessage */
/** @typedef {import("./types.js").Turn} Turn */
/** @typedef {import("./types.js").ConnectionState} ConnectionState */
/** @typedef {import("./frames.js").Frame} Frame */

/** @type {ResolvedOptions} */
export const DEFAULTS = {
  voice: true,
  reconnect: true,
  backoffMs: 500,
  maxBackoffMs: 10000,
  startLead: 0.1,
  minLead: 0.02,
  // The browser's own rate: Firefox refuses an AudioContext at another rate than the device's
  // (and a microphone on it), and Web Audio resamples each buffer anyway.
  contextSampleRate: null,
  codec: "pcm16",
  sampleRate: null,
  timelineLimit: 5000,
  autoUnlock: true,
  token: null,
  conversation: null,
  resume: true,
  resumeWindowMs: 150000, // resume_grace_s + resume_ttl_s of the server
};

const GESTURES = ["pointerdown", "keydown", "touchend", "click"];

function newId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return `m-${c.randomUUID()}`;
  return `m-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * ws(s)://<this page's host><path>
 * @param {string} [path]
 */
export function defaultUrl(path = "/ws") {
  const loc = globalThis.location;
  const scheme = loc.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${loc.host}${path}`;
}

/** A voicewire.v1 client: one WebSocket, text events, gapless Web Audio playback, word timing. */
export class VoicewireClient extends EventTarget {
  /**
   * @param {string} [url] the /ws URL (default: this page's host)
   * @param {VoicewireOptions} [options]
   */
  constructor(url, options = {}) {
    super();
    this.url = url || defaultUrl();
    /** @type {ResolvedOptions} */
    this.options = { ...DEFAULTS, ...options };
    /** @type {ConnectionState} */
    this.state = "closed";
    /** @type {ServerMessage | null} last session.ready / session.updated */
    this.session = null;
    /** @type {import("./types.js").AudioFormat} */
    this.audioFormat = { codec: "pcm16", sample_rate: 22050, channels: 1 };
    /** @private @type {((m: ServerMessage | null) => void)[]} */
    this._readyWaiters = [];
    /** @private */
    this._formatPending = false; // a session.update for the codec is on its way
    /** @private @type {Record<string, unknown>} setVoice() fields, sent again to a new session */
    this._settings = {};
    this.player = new Player(this.options, {
      emit: (type, detail) => this._fromPlayer(type, detail),
      current: () => this.turns.current,
      streamRate: () => this.audioFormat.sample_rate,
    });
    this.turns = new Turns(this.player, (type, detail) => this._emit(type, detail), () => this.audioFormat);
    this.connection = new Session(this.url, this.options, {
      state: (state) => this._setState(state),
      message: (m) => this._onMessage(m),
      frame: (f) => this.turns.frame(f),
      error: (d) => this._emit("error", d),
      disconnected: (d) => this._emit("disconnected", d),
      ended: () => this.turns.endSession(),
    });
    /** @private */
    this._onGesture = () => this.resumeAudio();
    /** @private */
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
    /** @param {Event} e */
    const listener = (e) => {
      const ce = /** @type {CustomEvent<VoicewireEventMap[K]>} */ (e);
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
    // Stutter as heard, reported to the server's /metrics (PROTOCOL.md §2).
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
    /** @type {Promise<ServerMessage | null>} */
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
  close(code = 1000, reason = "") {
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
    const t = turnId === null ? undefined : this.turns.all.get(turnId);
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
    // The server interrupts a running turn when a new message comes (barge-in); stop it here
    // first so it gets the played_ms, and so its audio does not overlap the new reply.
    if (this.busy) this.stop();
    if (voice) this.resumeAudio();
    /** @type {{type: string, [field: string]: unknown}} */
    const message = { type: "user.message", id, text, voice: !!voice };
    if (voice_name !== undefined) message.voice_name = voice_name;
    if (rate !== undefined) message.rate = rate;
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
    /** @type {Record<string, unknown>} */
    const fields = {};
    if (voice !== undefined) fields.voice = this.options.voice = !!voice;
    if (voice_name !== undefined) fields.voice_name = voice_name;
    if (rate !== undefined) fields.rate = rate;
    Object.assign(this._settings, fields); // a new session gets them again
    return this.sendJson({ type: "session.update", ...fields });
  }

  /**
   * Ask for another codec and/or rate (for the turns that start afterwards).
   * @param {{codec?: import("./types.js").CodecName, sampleRate?: number}} [format]
   */
  setFormat({ codec, sampleRate } = {}) {
    /** @type {Record<string, unknown>} */
    const fields = {};
    if (codec !== undefined) fields.codec = this.options.codec = codec;
    if (sampleRate !== undefined) fields.sample_rate = this.options.sampleRate = sampleRate;
    return this.sendJson({ type: "session.update", ...fields });
  }

  /** @param {string} [id] */
  ping(id) {
    return this.sendJson(id === undefined ? { type: "ping" } : { type: "ping", id });
  }

  // After session.ready: ask for the codec/rate of the options and the settings of setVoice()
  // the new session does not have yet; true when an update was sent.
  /** @private */
  _requestFormat() {
    const { codec, sampleRate } = this.options;
    /** @type {Record<string, unknown>} */
    const want = {};
    /** @type {Record<string, unknown>} */
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
        this.turns.clear(); // turn ids start again at 1
        this.session = m;
        if (m.audio) this.audioFormat = m.audio;
        this._emit("ready", m);
        if (!this._requestFormat()) this._resolveReady(m);
        break;
      case "session.resumed":
        // Turns, text, settings and the audio already scheduled are kept.
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
      case "notice": // e.g. speech_overloaded: this turn is text only (PROTOCOL.md §3)
        this._emit("notice", m);
        break;
      case "tool.call": // the model called one of the app's tools (PROTOCOL.md §9)
        this._emit("toolCall", m);
        break;
      case "tool.result":
        this._emit("toolResult", m);
        break;
      default:
        break; // unknown server types are ignored (PROTOCOL.md §6)
    }
  }
}
