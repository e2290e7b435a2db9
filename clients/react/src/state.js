// @ts-check
// The conversation as React state: a pure reducer over the client's events (runs in node).

/**
 * @typedef {object} SpokenWord the word being heard now
 * @property {string} text
 * @property {number} start16 UTF-16 index into the message's text (for String#slice)
 * @property {number} end16
 */

/**
 * One bubble of the conversation.
 * @typedef {object} VoicewireMessage
 * @property {string} id stable key (per session and turn, or per sent message)
 * @property {"user" | "assistant"} role
 * @property {string} text the text so far (it streams in)
 * @property {"sending" | "failed" | "partial" | "final" | "running" | "complete" | "interrupted" | string} status
 * @property {number | null} turnId the server's turn id (assistant messages)
 * @property {SpokenWord | null} word the word being spoken now, while it plays
 * @property {{kind: string, payload: unknown}[]} data data messages of the turn (cards)
 */

/**
 * @typedef {object} VoicewireState
 * @property {import("@voicewire/client").ConnectionState} status
 * @property {boolean} resuming a dropped session is being resumed
 * @property {VoicewireMessage[]} messages
 * @property {boolean} speaking a reply's audio is playing
 * @property {boolean} microphone the microphone streams
 * @property {import("@voicewire/client").ErrorEvent | null} error the last error
 * @property {number} session how many sessions began (turn ids start again in each)
 */

/** @typedef {{type: string, detail: any}} VoicewireAction */

/** @returns {VoicewireState} */
export function initialState() {
  return {
    status: "connecting",
    resuming: false,
    messages: [],
    speaking: false,
    microphone: false,
    error: null,
    session: 0,
  };
}

/**
 * @param {VoicewireState} state
 * @param {number} turnId
 */
function turnKey(state, turnId) {
  return `s${state.session}-t${turnId}`;
}

/**
 * The state with message `id` changed by `change` (created by `create` when missing).
 * @param {VoicewireState} state
 * @param {string} id
 * @param {(m: VoicewireMessage) => Partial<VoicewireMessage>} change
 * @param {() => VoicewireMessage} [create]
 * @returns {VoicewireState}
 */
function upsert(state, id, change, create) {
  const i = state.messages.findIndex((m) => m.id === id);
  if (i < 0) {
    if (!create) return state;
    const m = create();
    return { ...state, messages: [...state.messages, { ...m, ...change(m) }] };
  }
  const messages = state.messages.slice();
  messages[i] = { ...messages[i], ...change(messages[i]) };
  return { ...state, messages };
}

/**
 * @param {VoicewireState} state
 * @param {number} turnId
 * @returns {() => VoicewireMessage}
 */
function assistant(state, turnId) {
  return () => ({
    id: turnKey(state, turnId),
    role: "assistant",
    text: "",
    status: "running",
    turnId,
    word: null,
    data: [],
  });
}

/**
 * @param {string} id
 * @param {string} text
 * @param {VoicewireMessage["status"]} status
 * @returns {VoicewireMessage}
 */
function user(id, text, status) {
  return { id, role: "user", text, status, turnId: null, word: null, data: [] };
}

/**
 * Fold one client event (or a local action: `sent`, `microphone`) into the state.
 * @param {VoicewireState} state
 * @param {VoicewireAction} action
 * @returns {VoicewireState}
 */
export function reduce(state, { type, detail }) {
  switch (type) {
    case "state":
      return { ...state, status: detail.state };
    case "ready":
      return { ...state, session: state.session + 1, resuming: false, speaking: false };
    case "disconnected":
      return { ...state, resuming: true };
    case "resumed":
      return { ...state, resuming: false };
    case "turnStart":
      return upsert(state, turnKey(state, detail.turn_id), () => ({}), assistant(state, detail.turn_id));
    case "text":
      return upsert(state, turnKey(state, detail.turn_id), () => ({ text: detail.text }), assistant(state, detail.turn_id));
    case "word": {
      const word = { text: detail.text, start16: detail.start16, end16: detail.end16 };
      return { ...upsert(state, turnKey(state, detail.turn_id), () => ({ word })), speaking: true };
    }
    case "playbackEnd":
      return { ...upsert(state, turnKey(state, detail.turn_id), () => ({ word: null })), speaking: false };
    case "turnEnd":
      return upsert(state, turnKey(state, detail.turn_id), () => ({ status: detail.status }), assistant(state, detail.turn_id));
    case "data":
      return upsert(
        state,
        turnKey(state, detail.turn_id),
        (m) => ({ data: [...m.data, { kind: detail.kind, payload: detail.payload }] }),
        assistant(state, detail.turn_id),
      );
    case "transcript": {
      const id = `u-${detail.utterance_id}`;
      const status = detail.final ? "final" : "partial";
      if (!detail.text && !state.messages.some((m) => m.id === id)) return state;
      return upsert(state, id, () => ({ text: detail.text, status }), () => user(id, detail.text, status));
    }
    case "sent":
      return { ...state, messages: [...state.messages, user(detail.id, detail.text, detail.ok ? "final" : "failed")] };
    case "microphone":
      return { ...state, microphone: !!detail.active };
    case "error":
      return { ...state, error: detail };
    case "clearError":
      return { ...state, error: null };
    default:
      return state;
  }
}

/** The client events the reducer folds in. */
export const EVENTS = /** @type {const} */ ([
  "state",
  "ready",
  "disconnected",
  "resumed",
  "turnStart",
  "text",
  "word",
  "playbackEnd",
  "turnEnd",
  "data",
  "transcript",
  "error",
]);
