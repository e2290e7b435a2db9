// @ts-check
// @voicewire/client: the browser client of the voicewire.v1 protocol (PROTOCOL.md).
//
//   import { VoicewireClient } from "@voicewire/client";
//   const client = new VoicewireClient("wss://example.org/ws", { voice: true });
//   client.on("text", ({ turn_id, text }) => render(turn_id, text));
//   client.on("word", ({ start16, end16 }) => highlight(start16, end16));
//   await client.connect();
//   client.send("Hello!");
//   client.stop(); // silence now and cancel the turn
export { VoicewireClient, DEFAULTS, defaultUrl } from "./client.js";
export { Microphone, MIC_RATE } from "./microphone.js";
export { Session } from "./session.js";
export { Player } from "./player.js";
export {
  PROTOCOL,
  HEADER_SIZE,
  KIND,
  FLAGS,
  CODEC,
  CODEC_NAMES,
  OPUS_RATE,
  decodeFrame,
  encodeFrame,
  pcm16ToFloat32,
  opusRecords,
  opusPreSkip,
  codePointRangeToUtf16,
} from "./frames.js";
export { RESUMABLE_CLOSE_CODES, isResumableClose, backoffDelay } from "./policy.js";
export { placeBuffer, timeOfSample, playedSeconds, insertByTime } from "./timing.js";
export { VoicewireClient as default } from "./client.js";

/** @typedef {import("./types.js").VoicewireOptions} VoicewireOptions */
/** @typedef {import("./types.js").VoicewireEventMap} VoicewireEventMap */
/** @typedef {import("./types.js").ConnectionState} ConnectionState */
/** @typedef {import("./types.js").CodecName} CodecName */
/** @typedef {import("./types.js").WordEvent} WordEvent */
/** @typedef {import("./types.js").TextEvent} TextEvent */
/** @typedef {import("./types.js").TurnEndEvent} TurnEndEvent */
/** @typedef {import("./types.js").ErrorEvent} ErrorEvent */
/** @typedef {import("./types.js").ServerMessage} ServerMessage */
/** @typedef {import("./frames.js").Frame} Frame */
