// The session layer over a socket the test drives: seq checking, the resume request after a
// drop, and a stop while away reaching the server once the session is back.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import { encodeFrame } from "../../clients/js/src/frames.js";
import { Session } from "../../clients/js/src/session.js";
import { FakeWebSocket } from "./fakes.js";

const OPTIONS = {
  reconnect: true,
  resume: true,
  resumeWindowMs: 150000,
  backoffMs: 1, // the test waits for the reconnect, not for a duration
  maxBackoffMs: 1,
  token: null,
  conversation: "c-1",
};

let log;
let session;

function nextSocket(count) {
  // The reconnect is a timer: wait for the socket it opens, polling the event loop.
  return new Promise((resolve) => {
    const poll = () => (FakeWebSocket.all.length >= count ? resolve(FakeWebSocket.all[count - 1]) : setImmediate(poll));
    poll();
  });
}

beforeEach(() => {
  globalThis.WebSocket = FakeWebSocket;
  FakeWebSocket.all = [];
  log = [];
  session = new Session("ws://voicewire.test/ws", OPTIONS, {
    state: (s) => log.push(["state", s]),
    message: (m) => log.push(["message", m.type]),
    frame: (f) => log.push(["frame", f.seq]),
    error: (e) => log.push(["error", e.code]),
    disconnected: (d) => log.push(["disconnected", d.code, d.last_seq]),
    ended: () => log.push(["ended"]),
  });
});

afterEach(() => {
  session.close();
  delete globalThis.WebSocket;
});

function readySession() {
  session.open();
  const ws = FakeWebSocket.all[0];
  assert.equal(ws.protocol, "voicewire.v1");
  assert.equal(new URL(ws.url).searchParams.get("conversation"), "c-1");
  ws.serverOpen();
  ws.serverJson({ type: "session.ready", seq: 1, resume_token: "r-1", guest_token: "g-1", conversation_id: "c-1" });
  return ws;
}

test("frames in order pass, and a gap in seq is reported as seq_gap", () => {
  const ws = readySession();
  ws.serverSend(encodeFrame({ seq: 2 }));
  ws.serverJson({ type: "text.delta", seq: 3 });
  ws.serverSend(encodeFrame({ seq: 5 }));
  assert.deepEqual(
    log.filter((e) => e[0] !== "state"),
    [["ended"], ["message", "session.ready"], ["frame", 2], ["message", "text.delta"], ["error", "seq_gap"], ["frame", 5]],
  );
  assert.equal(session.lastSeq, 5);
});

test("an invalid frame is reported and not passed on", () => {
  const ws = readySession();
  ws.serverSend(new Uint8Array([1, 2, 3]).buffer);
  assert.ok(log.some((e) => e[0] === "error" && e[1] === "invalid_frame"));
  assert.ok(!log.some((e) => e[0] === "frame"));
});

test("a dropped socket reconnects asking to resume after the last frame processed", async () => {
  const ws = readySession();
  ws.serverSend(encodeFrame({ seq: 2 }));
  ws.serverClose(1006);
  assert.ok(log.some((e) => e[0] === "disconnected" && e[1] === 1006 && e[2] === 2));
  assert.equal(session.resuming, true);
  const again = await nextSocket(2);
  const q = new URL(again.url).searchParams;
  assert.deepEqual([q.get("token"), q.get("resume"), q.get("last_seq")], ["g-1", "r-1", "2"]);
  again.serverOpen();
  again.serverJson({ type: "session.resumed", seq: 2 });
  assert.equal(session.resuming, false);
  assert.ok(!log.some((e) => e[0] === "error"));
});

test("a stop while the session is away is sent once it has resumed", async () => {
  const ws = readySession();
  ws.serverSend(encodeFrame({ seq: 2 }));
  ws.serverClose(1011);
  const cancel = { type: "turn.cancel", turn_id: 1, played_ms: 420 };
  session.sendCancel(cancel);
  assert.deepEqual(ws.sent, []);
  const again = await nextSocket(2);
  again.serverOpen();
  assert.deepEqual(again.sent, []);
  again.serverJson({ type: "session.resumed", seq: 2 });
  assert.deepEqual(again.sent, [cancel]);
});

test("a close the vector does not call resumable starts a new session on the same conversation", async () => {
  const ws = readySession();
  ws.serverSend(encodeFrame({ seq: 2 }));
  ws.serverClose(4002);
  assert.equal(session.resuming, false);
  assert.equal(session.resumeToken, null);
  const again = await nextSocket(2);
  const q = new URL(again.url).searchParams;
  assert.deepEqual([q.get("resume"), q.get("conversation")], [null, "c-1"]);
});
