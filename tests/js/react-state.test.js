// The React package's state: the client's events folded into the conversation an app renders.
import assert from "node:assert/strict";
import { test } from "node:test";

import { initialState, reduce } from "../../clients/react/src/state.js";

const run = (actions, state = initialState()) => actions.reduce(reduce, state);

test("a sent message and its streamed reply become two messages, the reply's text growing", () => {
  const s = run([
    { type: "state", detail: { state: "open" } },
    { type: "ready", detail: { type: "session.ready" } },
    { type: "sent", detail: { id: "m-1", text: "Hi?", ok: true } },
    { type: "turnStart", detail: { turn_id: 1 } },
    { type: "text", detail: { turn_id: 1, text: "Hel", delta: "Hel" } },
    { type: "text", detail: { turn_id: 1, text: "Hello.", delta: "lo." } },
  ]);
  assert.equal(s.status, "open");
  assert.deepEqual(
    s.messages.map((m) => [m.role, m.text, m.status]),
    [
      ["user", "Hi?", "final"],
      ["assistant", "Hello.", "running"],
    ],
  );
});

test("the spoken word follows the word events and clears when playback ends", () => {
  const start = run([
    { type: "ready", detail: {} },
    { type: "text", detail: { turn_id: 1, text: "Hello there." } },
  ]);
  const w1 = reduce(start, { type: "word", detail: { turn_id: 1, text: "Hello", start16: 0, end16: 5 } });
  assert.deepEqual(w1.messages[0].word, { text: "Hello", start16: 0, end16: 5 });
  assert.equal(w1.speaking, true);
  const w2 = reduce(w1, { type: "word", detail: { turn_id: 1, text: "there.", start16: 6, end16: 12 } });
  assert.equal(w2.messages[0].word?.start16, 6);
  const done = run(
    [
      { type: "turnEnd", detail: { turn_id: 1, status: "complete", text: "Hello there." } },
      { type: "playbackEnd", detail: { turn_id: 1, played_ms: 900 } },
    ],
    w2,
  );
  assert.equal(done.messages[0].word, null);
  assert.equal(done.messages[0].status, "complete");
  assert.equal(done.speaking, false);
  assert.equal(start.messages[0].word, null, "the reducer never mutates the state it was given");
});

test("turn ids of a new session do not land in the old session's messages", () => {
  const s = run([
    { type: "ready", detail: {} },
    { type: "text", detail: { turn_id: 1, text: "first session" } },
    { type: "ready", detail: {} },
    { type: "text", detail: { turn_id: 1, text: "second session" } },
  ]);
  assert.deepEqual(s.messages.map((m) => m.text), ["first session", "second session"]);
});

test("a resume keeps the conversation and says it is resuming meanwhile", () => {
  const s = run([
    { type: "ready", detail: {} },
    { type: "text", detail: { turn_id: 1, text: "cut" } },
    { type: "disconnected", detail: { code: 1006, last_seq: 4 } },
  ]);
  assert.equal(s.resuming, true);
  const back = run([{ type: "resumed", detail: {} }, { type: "text", detail: { turn_id: 1, text: "cut off" } }], s);
  assert.equal(back.resuming, false);
  assert.deepEqual(back.messages.map((m) => m.text), ["cut off"]);
});

test("a spoken question's transcript is one user message, partial until final", () => {
  const s = run([
    { type: "ready", detail: {} },
    { type: "transcript", detail: { utterance_id: 3, text: "", final: false } },
    { type: "transcript", detail: { utterance_id: 3, text: "what is", final: false } },
    { type: "transcript", detail: { utterance_id: 3, text: "what is the rent", final: true } },
  ]);
  assert.deepEqual(s.messages.map((m) => [m.role, m.text, m.status]), [["user", "what is the rent", "final"]]);
});

test("data cards, errors and the microphone state are kept", () => {
  const s = run([
    { type: "ready", detail: {} },
    { type: "data", detail: { turn_id: 2, kind: "listing", payload: { rent: 1850 } } },
    { type: "error", detail: { code: "not_connected", message: "not connected" } },
    { type: "microphone", detail: { active: true } },
    { type: "sent", detail: { id: "local-1", text: "lost", ok: false } },
  ]);
  assert.deepEqual(s.messages[0].data, [{ kind: "listing", payload: { rent: 1850 } }]);
  assert.equal(s.error?.code, "not_connected");
  assert.equal(s.microphone, true);
  assert.equal(s.messages[1].status, "failed");
  assert.equal(reduce(s, { type: "clearError", detail: null }).error, null);
});
