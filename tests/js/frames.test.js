// The frame codec of the client package against the protocol's vectors (tests/vectors/).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  HEADER_SIZE,
  codePointRangeToUtf16,
  decodeFrame,
  encodeFrame,
  opusPreSkip,
  opusRecords,
  pcm16ToFloat32,
} from "../../clients/js/src/frames.js";

const VECTORS = JSON.parse(readFileSync(new URL("../vectors/frames.json", import.meta.url), "utf8"));

const fromHex = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
const toHex = (bytes) => Buffer.from(bytes).toString("hex");

test("the header size is the vectors' header size", () => {
  assert.equal(HEADER_SIZE, VECTORS.header_size);
});

for (const v of VECTORS.valid) {
  test(`decode_frame_reads_every_field_of_the_valid_vector_${v.name}`, () => {
    const f = decodeFrame(fromHex(v.hex));
    const h = v.header;
    assert.deepEqual(
      [f.version, f.kind, f.flags, f.codec, f.seq, f.turnId, f.segmentId, f.sampleOffset],
      [h.version, h.kind, h.flags, h.codec, h.seq, h.turn_id, h.segment_id, h.sample_offset],
    );
    assert.equal(toHex(f.payload), v.payload_hex);
  });

  test(`encode_frame_gives_back_the_bytes_of_the_valid_vector_${v.name}`, () => {
    const h = v.header;
    const bytes = encodeFrame({
      version: h.version,
      kind: h.kind,
      flags: h.flags,
      codec: h.codec,
      seq: h.seq,
      turnId: h.turn_id,
      segmentId: h.segment_id,
      sampleOffset: h.sample_offset,
      payload: fromHex(v.payload_hex),
    });
    assert.equal(toHex(new Uint8Array(bytes)), v.hex);
  });
}

for (const v of VECTORS.invalid) {
  test(`decode_frame_rejects_the_invalid_vector_${v.name}_saying_why`, () => {
    assert.throws(() => decodeFrame(fromHex(v.hex)), (err) => err.message.includes(v.error));
  });
}

test("a frame decodes from a view into a larger buffer, not from the buffer's start", () => {
  const v = VECTORS.valid[0];
  const bytes = fromHex(v.hex);
  const big = new Uint8Array(bytes.length + 7);
  big.set(bytes, 7);
  assert.equal(decodeFrame(big.subarray(7)).seq, v.header.seq);
});

test("encode_frame refuses a field out of its range", () => {
  assert.throws(() => encodeFrame({ segmentId: 0x10000 }), RangeError);
  assert.throws(() => encodeFrame({ seq: -1 }), RangeError);
});

test("pcm16 samples become floats in [-1, 1)", () => {
  assert.deepEqual([...pcm16ToFloat32(fromHex("0100ffff0080ff7f"))], [1 / 32768, -1 / 32768, -1, 32767 / 32768]);
});

test("opus records split on their u16 lengths and the OpusHead gives its pre-skip", () => {
  const head = new Uint8Array(19);
  head.set(new TextEncoder().encode("OpusHead"));
  head[10] = 0x38;
  head[11] = 0x01; // 312
  const payload = new Uint8Array([19, 0, ...head, 2, 0, 0xaa, 0xbb]);
  const records = opusRecords(payload);
  assert.equal(records.length, 2);
  assert.equal(opusPreSkip(records[0]), 312);
  assert.deepEqual([...records[1]], [0xaa, 0xbb]);
  assert.throws(() => opusRecords(new Uint8Array([5, 0, 1])), /truncated/);
});

test("code point offsets become UTF-16 indices past astral characters", () => {
  const text = "a😀 bc"; // 😀 is one code point, two UTF-16 units
  assert.deepEqual(codePointRangeToUtf16(text, 3, 5), [4, 6]);
  assert.equal(text.slice(...codePointRangeToUtf16(text, 3, 5)), "bc");
  assert.deepEqual(codePointRangeToUtf16("plain", 1, 3), [1, 3]);
});
