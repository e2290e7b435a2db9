// @ts-check
// The turns of a session on the client: their text, their segments and which one may play.
// Server messages about turns and speech frames come here; audio goes to the player.
import { CODEC, CODEC_NAMES, KIND, OPUS_RATE, pcm16ToFloat32 } from "./frames.js";
import { enqueue, onMp3, onOpus, releaseSegment } from "./decoders.js";

/** @typedef {import("./types.js").Turn} Turn */
/** @typedef {import("./types.js").ServerMessage} ServerMessage */
/** @typedef {import("./types.js").VoicewireEventMap} VoicewireEventMap */
/** @typedef {import("./frames.js").Frame} Frame */
/** @typedef {import("./player.js").Player} Player */

const KEPT_TURNS = 16; // past turns kept (late frames and playedMs() of a recent turn)

/** @param {number} codec */
export function canPlay(codec) {
  if (codec === CODEC.OPUS) return typeof globalThis.AudioDecoder === "function";
  if (codec === CODEC.MP3) return typeof globalThis.OfflineAudioContext === "function";
  return codec === CODEC.PCM16;
}

export class Turns {
  /**
   * @param {Player} player
   * @param {(type: keyof VoicewireEventMap, detail: any) => void} emit
   * @param {() => import("./types.js").AudioFormat} format the stream's format now
   */
  constructor(player, emit, format) {
    this.player = player;
    this.emit = emit;
    this.format = format;
    /** @type {Map<number, Turn>} */
    this.all = new Map();
    /** @type {Turn | null} the latest turn */
    this.current = null;
    this._codecWarned = new Set();
    /** @type {import("./decoders.js").Sink} */
    this.sink = {
      play: (t, seg, frame, samples) => player.play(t, seg, frame, samples),
      error: (d) => emit("error", d),
      jobDone: (t) => {
        if (t.ended) player.maybeFinishPlayback(t);
      },
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
        segments: new Map(),
        pending: 0,
        frozenPlayed: null,
        chain: null,
        jobs: 0,
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
      // A new turn replaces the old one (the server interrupted it): never play both.
      this.player.dropAudio(prev);
      this.player.finishPlayback(prev);
    }
    const t = this.get(m.turn_id);
    // A turn in a voice of another rate announces its own format (turn.start.audio): its
    // buffers are made at that rate, and Web Audio resamples them to the context's.
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
    // A segment cut short never gets its segment.end: its held-back audio plays as it is.
    for (const seg of t.segments.values()) releaseSegment(seg, null);
    t.running = false;
    t.ended = true;
    t.status = m.status;
    if (t.text !== m.text && m.status === "complete") {
      this.emit("error", {
        code: "text_mismatch",
        message: "the text deltas do not add up to the turn's text",
        turn_id: m.turn_id,
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
      // Compressed audio is still being decoded: its words are timed once it is scheduled.
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
          turn_id: frame.turnId,
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
}
