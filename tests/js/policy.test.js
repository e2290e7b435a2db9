// The resume policy per close code (PROTOCOL.md §8) against tests/vectors/close_codes.json:
// the table, and what the session layer does when its socket closes with each code.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { RESUMABLE_CLOSE_CODES, backoffDelay, isResumableClose } from "../../clients/js/src/policy.js";
import { Session } from "../../clients/js/src/session.js";

const VECTOR = JSON.parse(
  readFileSync(new URL("../vectors/close_codes.json", import.meta.url), "utf8"),
).close_codes;

const OPTIONS = {
  reconnect: true,
  resume: true,
  resumeWindowMs: 150000,
  backoffMs: 600000, // far-off reconnects: the decision is what is looked at
  maxBackoffMs: 600000,
  token: null,
  conversation: null,
};

function hooks(log) {
  return {
    state: (s) => log.push(["state", s]),
    message: (m) => log.push(["message", m.type]),
    frame: (f) => log.push(["frame", f.seq]),
    error: (e) => log.push(["error", e.code]),
    disconnected: (d) => log.push(["disconnected", d.code]),
    ended: () => log.push(["ended"]),
  };
}

test("the resumable close codes are exactly the vector's", () => {
  const want = VECTOR.filter((e) => e.resumable).map((e) => e.code);
  assert.deepEqual([...RESUMABLE_CLOSE_CODES].sort((a, b) => a - b), want.sort((a, b) => a - b));
  for (const e of VECTOR) assert.equal(isResumableClose(e.code), e.resumable, `code ${e.code}`);
});

for (const entry of VECTOR) {
  test(`a session whose socket closes with ${entry.code} is ${entry.resumable ? "kept for a resume" : "ended"}`, () => {
    const log = [];
    const s = new Session("ws://voicewire.test/ws", OPTIONS, hooks(log));
    Object.assign(s, { token: "t", resumeToken: "r", _lastSeq: 7 });
    s._onDisconnect({ code: entry.code, reason: "" }, true);
    try {
      if (entry.resumable) {
        assert.equal(s.resuming, true);
        assert.equal(s.resumeToken, "r");
        assert.deepEqual(log.filter((e) => e[0] === "disconnected"), [["disconnected", entry.code]]);
        assert.ok(!log.some((e) => e[0] === "ended"));
        // The reconnect asks for the session and the last frame processed.
        const url = new URL(s._sessionUrl(true));
        assert.equal(url.searchParams.get("resume"), "r");
        assert.equal(url.searchParams.get("last_seq"), "7");
      } else {
        assert.equal(s.resuming, false);
        assert.equal(s.resumeToken, null);
        assert.ok(log.some((e) => e[0] === "ended"));
      }
    } finally {
      s.close();
    }
  });
}

test("without a resume token or a frame processed nothing is resumed, whatever the code", () => {
  for (const fields of [{ token: "t", resumeToken: null, _lastSeq: 7 }, { token: "t", resumeToken: "r", _lastSeq: 0 }]) {
    const s = new Session("ws://voicewire.test/ws", OPTIONS, hooks([]));
    Object.assign(s, fields);
    assert.equal(s.canResume(1006), false);
    s.close();
  }
});

test("the reconnect delay doubles per attempt up to its cap, within ±20 % jitter", () => {
  const limits = { backoffMs: 500, maxBackoffMs: 10000 };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, limits, () => 0.5)),
    [500, 1000, 2000, 4000, 8000, 10000, 10000],
  );
  assert.equal(backoffDelay(0, limits, () => 0), 400);
  assert.equal(backoffDelay(0, limits, () => 0.999999), 600);
});
