// @ts-check
// Compressed speech (docs/codecs.md). Decoding is asynchronous, so each frame becomes a job on
// its turn's chain: jobs start decoding at once but schedule their audio strictly in arrival
// order, so segments stay in order and gapless; segment.end's word timing is a job too, after
// its segment's audio.
import {
  FLAGS,
  OPUS_PACKET_US,
  OPUS_RATE,
  concatBytes,
  concatFloat32,
  opusPreSkip,
  opusRecords,
} from "./frames.js";
import { errorMessage } from "./session.js";

/** @typedef {import("./types.js").Turn} Turn */
/** @typedef {import("./types.js").Segment} Segment */
/** @typedef {import("./types.js").OpusState} OpusState */
/** @typedef {import("./frames.js").Frame} Frame */

/**
 * What the decoders need of the player.
 * @typedef {object} Sink
 * @property {(turn: Turn, seg: Segment, frame: {segmentId: number, sampleOffset: number},
 *   samples: Float32Array) => void} play
 * @property {(detail: import("./types.js").ErrorEvent) => void} error
 * @property {(turn: Turn) => void} jobDone
 */

/**
 * Run `job` after the turn's earlier jobs.
 * @param {Sink} sink
 * @param {Turn} t
 * @param {() => unknown} job
 */
export function enqueue(sink, t, job) {
  t.jobs += 1;
  t.chain = (t.chain || Promise.resolve())
    .then(() => (t.dropped ? undefined : job()))
    .catch((err) => sink.error({ code: "decode_failed", message: errorMessage(err), turn_id: t.id }))
    .then(() => {
      t.jobs -= 1;
      sink.jobDone(t);
    });
}

/**
 * The segment's length in samples once its segment.end came (null: it never will).
 * @param {Segment} seg
 * @returns {Promise<number | null>}
 */
export function segmentSamples(seg) {
  if (seg.endSamples !== undefined) return Promise.resolve(seg.endSamples);
  return new Promise((resolve) => (seg.endWaiters || (seg.endWaiters = [])).push(resolve));
}

/**
 * @param {Segment} seg
 * @param {number | null} samples
 */
export function releaseSegment(seg, samples) {
  if (seg.endSamples !== undefined) return;
  seg.endSamples = samples;
  for (const resolve of seg.endWaiters || []) resolve(samples);
  seg.endWaiters = null;
}

/**
 * Opus: one WebCodecs AudioDecoder per segment (each segment is a new Opus stream). The
 * OpusHead's pre-skip is dropped here (no `description` is given, so the decoder keeps it),
 * and the last frame's packet padding is cut at segment.end.samples.
 * @param {Sink} sink
 * @param {Turn} t
 * @param {Segment} seg
 * @param {Frame} frame
 */
export function onOpus(sink, t, seg, frame) {
  let records;
  try {
    records = opusRecords(frame.payload);
    const head = frame.flags & FLAGS.SEGMENT_START ? records.shift() : undefined;
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

/**
 * @param {Sink} sink
 * @param {Turn} t
 * @param {number} preSkip
 * @returns {OpusState}
 */
function opusDecoder(sink, t, preSkip) {
  /** @type {OpusState} */
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
      },
    }),
  };
  op.decoder.configure({ codec: "opus", sampleRate: OPUS_RATE, numberOfChannels: 1 });
  return op;
}

/**
 * The decoded samples of `packets` (one AudioData comes out per packet), concatenated.
 * @param {Sink} sink
 * @param {OpusState} op
 * @param {Uint8Array[]} packets
 * @param {boolean} last
 * @returns {Promise<Float32Array>}
 */
function decodeOpus(sink, op, packets, last) {
  if (op.decoder.state !== "configured") return Promise.resolve(new Float32Array(0));
  /** @type {Promise<Float32Array>} */
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

/** @param {OpusState} op */
function drainOpus(op) {
  while (op.waiters.length && op.outputs.length >= op.waiters[0].count) {
    const waiter = /** @type {OpusState["waiters"][number]} */ (op.waiters.shift());
    waiter.resolve(concatFloat32(op.outputs.splice(0, waiter.count)));
  }
}

/**
 * Stop decoding; whatever waits for output gets what there is.
 * @param {OpusState} op
 */
export function closeOpus(op) {
  if (op.decoder.state !== "closed") op.decoder.close();
  for (const { resolve } of op.waiters.splice(0)) {
    resolve(concatFloat32([new Float32Array(0), ...op.outputs.splice(0)]));
  }
}

/**
 * MP3: each segment is one MP3 file (its LAME tag trims the codec delay and padding), decoded
 * whole at the stream's rate once its last frame is in.
 * @param {Sink} sink
 * @param {Turn} t
 * @param {Segment} seg
 * @param {Frame} frame
 */
export function onMp3(sink, t, seg, frame) {
  (seg.mp3 || (seg.mp3 = [])).push(frame.payload.slice());
  if (!(frame.flags & FLAGS.SEGMENT_END)) return;
  const bytes = concatBytes(seg.mp3);
  seg.mp3 = null;
  /** @type {Promise<Float32Array>} */
  const decoded =
    bytes.byteLength === 0
      ? Promise.resolve(new Float32Array(0))
      : Promise.resolve()
          .then(() => new OfflineAudioContext(1, 1, t.rate).decodeAudioData(bytes.buffer))
          .then((buffer) => buffer.getChannelData(0));
  decoded.catch(() => {}); // reported by its job, in order, not as an unhandled rejection
  enqueue(sink, t, async () => {
    let pcm = await decoded;
    const total = await segmentSamples(seg);
    if (total !== null) pcm = pcm.subarray(0, total);
    sink.play(t, seg, { segmentId: frame.segmentId, sampleOffset: 0 }, pcm);
  });
}
