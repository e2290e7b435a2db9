// @ts-check
// Gapless Web Audio playback of a turn's speech, the word clock, and Stop. Each turn's buffers
// are scheduled back to back on the AudioContext's clock (timing.js has the arithmetic); word
// events fire when the listener hears them (the clock minus the output latency).
import { codePointRangeToUtf16 } from "./frames.js";
import { closeOpus, releaseSegment } from "./decoders.js";
import { insertByTime, placeBuffer, playedSeconds, timeOfSample, underrunOf } from "./timing.js";

/** @typedef {import("./types.js").Turn} Turn */
/** @typedef {import("./types.js").Segment} Segment */
/** @typedef {import("./types.js").BufferRecord} BufferRecord */
/** @typedef {import("./types.js").WordEvent} WordEvent */
/** @typedef {import("./types.js").ServerMessage} ServerMessage */

/**
 * What the player needs of its owner.
 * @typedef {object} PlayerHost
 * @property {(type: "word" | "playbackEnd" | "error" | "underrun", detail: any) => void} emit
 * @property {() => Turn | null} current the turn whose audio may play
 * @property {() => number} streamRate the rate of the stream as the server announced it
 */

/**
 * @typedef {object} PlayerOptions
 * @property {number} startLead
 * @property {number} minLead
 * @property {"stream" | number | null} contextSampleRate
 * @property {number} timelineLimit
 */

export class Player {
  /**
   * @param {PlayerOptions} options
   * @param {PlayerHost} host
   */
  constructor(options, host) {
    this.options = options;
    this.host = host;
    /** @type {AudioContext | null} */
    this.ctx = null;
    /** @type {GainNode | null} every source goes through it (connect analysers here) */
    this.output = null;
    this.stats = { receivedSamples: 0, playedSamples: 0, scheduledSegments: 0, underruns: 0 };
    /** @type {BufferRecord[]} */
    this.timeline = [];
    /** @type {{turn: Turn, record: BufferRecord, node: AudioBufferSourceNode}[]} */
    this._playing = []; // scheduled and not yet ended
    /** @type {WordEvent[]} */
    this._words = []; // pending word events, sorted by time
    this._nextTime = 0; // audio-clock time where the next buffer goes
    /** @type {ReturnType<typeof setInterval> | null} */
    this._ticker = null;
  }

  /**
   * Create (on first use) and resume the AudioContext. Call it from a user gesture.
   * @returns {Promise<AudioContext | null>}
   */
  resumeAudio() {
    /** @type {typeof AudioContext | undefined} */
    const Ctx = globalThis.AudioContext || /** @type {any} */ (globalThis).webkitAudioContext;
    if (!Ctx) return Promise.resolve(null);
    if (!this.ctx) {
      const want = this.options.contextSampleRate;
      const rate = want === "stream" ? this.host.streamRate() : want;
      try {
        this.ctx = rate ? new Ctx({ sampleRate: rate, latencyHint: "interactive" }) : new Ctx();
      } catch {
        this.ctx = new Ctx(); // a rate the browser refuses: let Web Audio resample buffers
      }
      this.output = this.ctx.createGain();
      this.output.connect(this.ctx.destination);
    }
    const ctx = this.ctx;
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
    this.resumeAudio(); // no-op when running; resumes a suspended context before scheduling
    const ctx = this.ctx;
    if (!ctx || !this.output) return;
    const buffer = ctx.createBuffer(1, samples.length, t.rate);
    // Samples are never in a SharedArrayBuffer here (decoded or converted by this client).
    buffer.copyToChannel(/** @type {Float32Array<ArrayBuffer>} */ (samples), 0);
    const { start, late } = placeBuffer(this._nextTime, ctx.currentTime, this.options);
    if (late && t.records.length > 0) {
      // Ran dry mid-turn: the listener heard silence from the end of the queued audio.
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
    /** @type {BufferRecord} */
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

  /**
   * ms of a turn's audio played so far (measured on the audio clock).
   * @param {Turn} t
   */
  playedMs(t) {
    if (t.frozenPlayed !== null) return t.frozenPlayed;
    return playedSeconds(t.records, this.currentTime) * 1000;
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
        const sample = Math.round((w.start_ms * t.rate) / 1000);
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
          time: timeOfSample(seg.chunks, sample, t.rate),
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
      if (seg.opus) closeOpus(seg.opus);
      releaseSegment(seg, null);
    }
    t.frozenPlayed = playedSeconds(t.records, now) * 1000;
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
      if (!t.dropped) t.frozenPlayed = playedSeconds(t.records, this.currentTime) * 1000;
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
}
