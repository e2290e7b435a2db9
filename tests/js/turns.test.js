// The per-turn audio format: a turn in a voice of another sample rate announces it in its
// turn.start, and its audio is played at that rate (the session's format is unchanged).
import assert from "node:assert/strict";
import { test } from "node:test";

import { Turns } from "../../clients/js/src/turns.js";

const SESSION_FORMAT = { codec: "pcm16", sample_rate: 22050, channels: 1 };

function turns() {
  const player = { dropAudio: () => 0, finishPlayback: () => {}, silence: () => {} };
  return new Turns(player, () => {}, () => SESSION_FORMAT);
}

test("a turn.start announcing another sample rate plays that turn at it, and the next at the session's", () => {
  const t = turns();
  const audio = { codec: "pcm16", sample_rate: 16000, channels: 1 };
  t.start({ type: "turn.start", seq: 2, turn_id: 1, reply_to: "a", audio, voice_name: "slow" });
  assert.equal(t.get(1).rate, 16000);
  t.start({ type: "turn.start", seq: 9, turn_id: 2, reply_to: "b" });
  assert.equal(t.get(2).rate, 22050);
});
