// The player's scheduling arithmetic (timing.js), and the client facade playing a reply in node
// over a fake socket and a fake AudioContext whose clock the test moves: gapless, in order,
// words on the audio clock, and Stop.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import { VoicewireClient } from "../../clients/js/src/client.js";
import { FLAGS, encodeFrame } from "../../clients/js/src/frames.js";
import { insertByTime, placeBuffer, playedSeconds, timeOfSample, underrunOf } from "../../clients/js/src/timing.js";
import { FakeAudioContext, FakeWebSocket } from "./fakes.js";

const LEADS = { minLead: 0.02, startLead: 0.1 };

test("a buffer goes right after the previous one while that is far enough ahead", () => {
  assert.deepEqual(placeBuffer(1.5, 1.0, LEADS), { start: 1.5, late: false });
  assert.deepEqual(placeBuffer(1.01, 1.0, LEADS), { start: 1.1, late: true });
  assert.deepEqual(placeBuffer(0, 2.0, LEADS), { start: 2.1, late: true });
});

test("a sample's time is exact across an underrun gap between chunks", () => {
  const chunks = [
    { offset: 0, start: 1.0, samples: 1000 },
    { offset: 1000, start: 3.0, samples: 1000 }, // ran dry: this chunk started late
  ];
  assert.equal(timeOfSample(chunks, 500, 1000), 1.5);
  assert.equal(timeOfSample(chunks, 1500, 1000), 3.5);
});

test("played time counts each record up to now or to where it was stopped", () => {
  const records = [
    { start: 0, end: 1, stopped_at: null },
    { start: 1, end: 2, stopped_at: 1.25 },
  ];
  assert.equal(playedSeconds(records, 0.5), 0.5);
  assert.equal(playedSeconds(records, 5), 1.25);
});

test("an underrun is the silence before the late buffer, at the turn's audio played so far", () => {
  const records = [{ samples: 300, rate: 1000 }, { samples: 500, rate: 1000 }];
  assert.deepEqual(underrunOf(0.9, 1.25, records), { silence_ms: 350, at_ms: 800 });
  assert.equal(underrunOf(0.9, 0.9, records), null);
  assert.deepEqual(underrunOf(0, 100, []), { silence_ms: 60000, at_ms: 0 }); // bounded
});

test("words stay sorted by time, a later equal time after the earlier one", () => {
  const list = [];
  for (const [time, id] of [[2, "a"], [1, "b"], [2, "c"], [0, "d"]]) insertByTime(list, { time, id });
  assert.deepEqual(list.map((w) => w.id), ["d", "b", "a", "c"]);
});

// --- the facade over fakes ----------------------------------------------------------------------

const RATE = 1000; // samples per second, so 1 sample = 1 ms
let client;
let ws;
let ctx;
let events;

function pcm(samples) {
  return new Uint8Array(samples * 2); // silence is fine: the clock is what is checked
}

beforeEach(async () => {
  globalThis.WebSocket = FakeWebSocket;
  FakeWebSocket.all = [];
  globalThis.AudioContext = class extends FakeAudioContext {
    constructor(options) {
      super(options);
      ctx = this;
    }
  };
  client = new VoicewireClient("ws://voicewire.test/ws", { autoUnlock: false });
  events = [];
  for (const type of ["turnStart", "text", "word", "turnEnd", "playbackEnd", "error"]) {
    client.on(type, (d) => events.push([type, d]));
  }
  const ready = client.connect();
  ws = FakeWebSocket.all[0];
  ws.serverOpen();
  ws.serverJson({
    type: "session.ready",
    seq: 1,
    resume_token: "r",
    audio: { codec: "pcm16", sample_rate: RATE, channels: 1 },
  });
  await ready;
  await client.resumeAudio();
});

afterEach(() => {
  client.destroy();
  delete globalThis.WebSocket;
  delete globalThis.AudioContext;
});

let seq = 1;
function reply() {
  seq = 1;
  const json = (m) => ws.serverJson({ ...m, seq: ++seq });
  const frame = (f) => ws.serverSend(encodeFrame({ ...f, turnId: 1, seq: ++seq }));
  json({ type: "turn.start", turn_id: 1 });
  json({ type: "text.delta", turn_id: 1, text: "Hi there. Bye." });
  json({ type: "segment.start", turn_id: 1, segment_id: 0, char_start: 0 });
  frame({ segmentId: 0, flags: FLAGS.SEGMENT_START, sampleOffset: 0, payload: pcm(300) });
  frame({ segmentId: 0, flags: FLAGS.SEGMENT_END, sampleOffset: 300, payload: pcm(200) });
  json({
    type: "segment.end",
    turn_id: 1,
    segment_id: 0,
    samples: 500,
    words: [
      { text: "Hi", char_start: 0, char_end: 2, start_ms: 0, end_ms: 200 },
      { text: "there.", char_start: 3, char_end: 9, start_ms: 350, end_ms: 500 },
    ],
  });
  json({ type: "segment.start", turn_id: 1, segment_id: 1, char_start: 10 });
  frame({ segmentId: 1, flags: FLAGS.SEGMENT_START | FLAGS.SEGMENT_END, sampleOffset: 0, payload: pcm(400) });
  json({
    type: "segment.end",
    turn_id: 1,
    segment_id: 1,
    samples: 400,
    words: [{ text: "Bye.", char_start: 10, char_end: 14, start_ms: 100, end_ms: 400 }],
  });
  json({ type: "turn.end", turn_id: 1, status: "complete", text: "Hi there. Bye." });
}

function at(time) {
  ctx.currentTime = time;
  client.player._tick();
}

test("a reply's buffers are scheduled back to back in order from the start lead", () => {
  reply();
  const records = client.timeline;
  // Gapless: each buffer starts exactly where the previous one ends (same float, no rounding).
  for (let i = 1; i < records.length; i++) assert.equal(records[i].start, records[i - 1].end);
  const ms = (t) => Math.round(t * 1e6) / 1e6;
  const spans = records.map((r) => [r.segment_id, r.sample_offset, ms(r.start), ms(r.end)]);
  assert.deepEqual(spans, [
    [0, 0, 0.1, 0.4],
    [0, 300, 0.4, 0.6],
    [1, 0, 0.6, 1.0],
  ]);
  assert.equal(client.stats.underruns, 0);
  assert.ok(!events.some(([type]) => type === "error"), JSON.stringify(events));
});

test("each word fires when the audio clock reaches it, at its time on that clock", () => {
  reply();
  const words = () => events.filter(([type]) => type === "word").map(([, w]) => [w.text, w.time, w.start16, w.end16]);
  at(0.05);
  assert.deepEqual(words(), []);
  at(0.1);
  assert.deepEqual(words(), [["Hi", 0.1, 0, 2]]);
  at(0.5);
  assert.deepEqual(words().map((w) => w[0]), ["Hi", "there."]);
  assert.ok(Math.abs(words()[1][1] - 0.45) < 1e-9);
  at(1.0);
  assert.deepEqual(words().map((w) => w[0]), ["Hi", "there.", "Bye."]);
  assert.ok(Math.abs(words()[2][1] - 0.7) < 1e-9);
  const end = events.find(([type]) => type === "playbackEnd");
  assert.ok(end, "playback ends once every buffer has played");
  assert.equal(end[1].played_ms, 900);
});

test("stop silences the turn, sends turn.cancel with the ms heard, and no word fires after", () => {
  const json = (m) => ws.serverJson({ ...m, seq: ++seq });
  seq = 1;
  json({ type: "turn.start", turn_id: 1 });
  json({ type: "segment.start", turn_id: 1, segment_id: 0, char_start: 0 });
  ws.serverSend(encodeFrame({ turnId: 1, seq: ++seq, segmentId: 0, flags: FLAGS.SEGMENT_START, payload: pcm(1000) }));
  at(0.35);
  const stopped = client.stop();
  assert.deepEqual(stopped, { turn_id: 1, played_ms: 250 });
  assert.deepEqual(ws.sent.at(-1), { type: "turn.cancel", turn_id: 1, played_ms: 250 });
  assert.equal(ctx.started[0].stoppedAt, 0.35);
  assert.equal(client.busy, false);
  at(2);
  assert.ok(!events.some(([type]) => type === "word"));
});

test("a buffer that arrives after playback ran dry reports the silence to the server", () => {
  const json = (m) => ws.serverJson({ ...m, seq: ++seq });
  const frame = (f) => ws.serverSend(encodeFrame({ ...f, turnId: 1, seq: ++seq }));
  seq = 1;
  json({ type: "turn.start", turn_id: 1 });
  json({ type: "segment.start", turn_id: 1, segment_id: 0, char_start: 0 });
  frame({ segmentId: 0, flags: FLAGS.SEGMENT_START, sampleOffset: 0, payload: pcm(300) }); // 0.1–0.4
  at(0.6); // the queue ran dry at 0.4
  frame({ segmentId: 0, flags: 0, sampleOffset: 300, payload: pcm(200) }); // starts at 0.7
  const report = { type: "playback.underrun", turn_id: 1, silence_ms: 300, at_ms: 300 };
  assert.deepEqual(ws.sent.at(-1), report);
  assert.equal(client.stats.underruns, 1);
});
