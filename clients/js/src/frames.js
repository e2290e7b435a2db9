// @ts-check
// Binary frames of voicewire.v1 (PROTOCOL.md §4): a 20-byte little-endian header, then the
// payload; plus the payload helpers of each codec (docs/codecs.md). Pure: runs in node too.

export const PROTOCOL = "voicewire.v1";
export const HEADER_SIZE = 20;
export const KIND = Object.freeze({ SPEECH: 1, MICROPHONE: 2 });
export const FLAGS = Object.freeze({ SEGMENT_START: 1, SEGMENT_END: 2 });
export const CODEC = Object.freeze({ PCM16: 0, OPUS: 1, MP3: 2 });
/** @type {Readonly<Record<number, import("./types.js").CodecName>>} */
export const CODEC_NAMES = Object.freeze({ 0: "pcm16", 1: "opus", 2: "mp3" });
const KNOWN_FLAGS = FLAGS.SEGMENT_START | FLAGS.SEGMENT_END;
export const OPUS_RATE = 48000; // opus is always sent at 48 kHz, whatever rate was asked for
export const OPUS_PACKET_US = 20000;

/**
 * A decoded binary frame.
 * @typedef {object} Frame
 * @property {number} version
 * @property {number} kind 1 speech, 2 microphone
 * @property {number} flags SEGMENT_START | SEGMENT_END bits
 * @property {number} codec 0 pcm16, 1 opus, 2 mp3
 * @property {number} seq
 * @property {number} turnId
 * @property {number} segmentId
 * @property {number} sampleOffset
 * @property {Uint8Array} payload
 */

/**
 * The fields of a frame to encode (every one optional).
 * @typedef {object} FrameFields
 * @property {number} [version]
 * @property {number} [kind]
 * @property {number} [flags]
 * @property {number} [codec]
 * @property {number} [seq]
 * @property {number} [turnId]
 * @property {number} [segmentId]
 * @property {number} [sampleOffset]
 * @property {number} [reserved] must be 0 on the wire; settable to build invalid frames in tests
 * @property {ArrayBuffer | ArrayBufferView} [payload]
 */

/**
 * @param {ArrayBuffer | ArrayBufferView} data
 * @returns {Uint8Array}
 */
export function toBytes(data) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("expected an ArrayBuffer or a typed array");
}

/**
 * Decode one binary frame. Throws an Error for every frame a v1 decoder must reject.
 * @param {ArrayBuffer | ArrayBufferView} data
 * @returns {Frame}
 */
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

/**
 * @param {string} name
 * @param {number} value
 * @param {number} max
 */
function checkUint(name, value, max) {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${name} must be an integer in [0, ${max}], got ${value}`);
  }
  return value;
}

/**
 * Encode one binary frame; the inverse of decodeFrame.
 * @param {FrameFields} [fields]
 * @returns {ArrayBuffer}
 */
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

/**
 * pcm16 (signed 16-bit little-endian, mono) → Float32 samples in [-1, 1).
 * @param {ArrayBuffer | ArrayBufferView} bytes
 * @returns {Float32Array}
 */
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
 * @param {ArrayBuffer | ArrayBufferView} bytes
 * @returns {Uint8Array[]}
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

/**
 * The pre-skip (priming samples at 48 kHz to drop) of an OpusHead record.
 * @param {Uint8Array} head
 * @returns {number}
 */
export function opusPreSkip(head) {
  const magic = String.fromCharCode(...head.subarray(0, 8));
  if (head.byteLength < 19 || magic !== "OpusHead") throw new Error("missing OpusHead");
  return head[10] | (head[11] << 8);
}

/**
 * @param {Float32Array[]} parts
 * @returns {Float32Array}
 */
export function concatFloat32(parts) {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/**
 * @param {Uint8Array[]} parts
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function concatBytes(parts) {
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
 * @param {string} text
 * @param {number} start
 * @param {number} end
 * @returns {[number, number]}
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
    i += /** @type {number} */ (text.codePointAt(i)) > 0xffff ? 2 : 1;
    cp += 1;
  }
  return [s, e];
}
