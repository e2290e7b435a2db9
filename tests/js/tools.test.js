// The browser client hands tool.call / tool.result to the app as toolCall / toolResult events.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import { VoicewireClient } from "../../clients/js/src/client.js";
import { FakeAudioContext, FakeWebSocket } from "./fakes.js";

let client;
let ws;

beforeEach(async () => {
  globalThis.WebSocket = FakeWebSocket;
  FakeWebSocket.all = [];
  globalThis.AudioContext = FakeAudioContext;
  client = new VoicewireClient("ws://voicewire.test/ws", { autoUnlock: false });
  const ready = client.connect();
  ws = FakeWebSocket.all[0];
  ws.serverOpen();
  ws.serverJson({
    type: "session.ready",
    seq: 1,
    resume_token: "r",
    audio: { codec: "pcm16", sample_rate: 1000, channels: 1 },
  });
  await ready;
});

afterEach(() => {
  client.destroy();
  delete globalThis.WebSocket;
  delete globalThis.AudioContext;
});

test("tool.call and tool.result reach the app as toolCall and toolResult", () => {
  const seen = [];
  client.on("toolCall", (d) => seen.push(["toolCall", d.name, d.arguments]));
  client.on("toolResult", (d) => seen.push(["toolResult", d.status, d.result]));
  ws.serverJson({ type: "turn.start", seq: 2, turn_id: 1, reply_to: "m1" });
  ws.serverJson({
    type: "tool.call",
    seq: 3,
    turn_id: 1,
    call_id: "c1",
    name: "search_properties",
    arguments: { kind: "flat" },
  });
  ws.serverJson({
    type: "tool.result",
    seq: 4,
    turn_id: 1,
    call_id: "c1",
    name: "search_properties",
    status: "ok",
    duration_ms: 12,
    result: { count: 3 },
  });
  assert.deepEqual(seen, [
    ["toolCall", "search_properties", { kind: "flat" }],
    ["toolResult", "ok", { count: 3 }],
  ]);
});
