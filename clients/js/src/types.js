// @ts-check
// Types only: the options, events and payloads of the client (JSDoc, checked by tsc).
export {};

/** @typedef {"pcm16" | "opus" | "mp3"} CodecName */
/** @typedef {"connecting" | "open" | "reconnecting" | "closed"} ConnectionState */

/**
 * @typedef {object} VoicewireOptions
 * @property {boolean} [voice] speak the replies (default true)
 * @property {boolean} [reconnect] reconnect after a dropped connection (default true)
 * @property {number} [backoffMs] first reconnect delay; doubles each attempt (default 500)
 * @property {number} [maxBackoffMs] longest reconnect delay (default 10000)
 * @property {number} [startLead] s of lead when playback (re)starts (default 0.1)
 * @property {number} [minLead] s: a buffer due sooner than this is late, an underrun (default 0.02)
 * @property {"stream" | number | null} [contextSampleRate] the AudioContext's rate: null (the
 *   default) the browser's own, "stream" the stream's, a number that rate (a browser that
 *   refuses it gets its own)
 * @property {CodecName} [codec] speech codec asked for after session.ready (default "pcm16")
 * @property {number | null} [sampleRate] a pcm16/mp3 rate to ask for (null: the server's)
 * @property {number} [timelineLimit] buffer records kept in `timeline` (default 5000)
 * @property {boolean} [autoUnlock] create/resume the AudioContext on the first user gesture
 * @property {string | null} [token] identity token (default: the URL's, else a guest token)
 * @property {string | null} [conversation] conversation to continue (default: the URL's)
 * @property {boolean} [resume] resume a dropped session instead of starting a new one
 * @property {number} [resumeWindowMs] give up resuming this long after the drop
 */

/** @typedef {Required<VoicewireOptions>} ResolvedOptions */

/** @typedef {{codec: CodecName, sample_rate: number, channels: number}} AudioFormat */

/**
 * A server message (PROTOCOL.md §6): its `type` plus the fields of that type.
 * @typedef {{type: string, seq?: number, [field: string]: any}} ServerMessage
 */

/**
 * @typedef {object} WordEvent
 * @property {number} turn_id
 * @property {number} segment_id
 * @property {number} index the word's index in its segment
 * @property {string} text
 * @property {number} char_start code points into the turn's text
 * @property {number} char_end
 * @property {number} start16 UTF-16 index into the turn's text (for String#slice)
 * @property {number} end16
 * @property {number} start_ms in its segment's audio
 * @property {number} end_ms
 * @property {number} time where the word starts on the audio clock (s)
 */

/** @typedef {{turn_id: number, text: string, delta: string}} TextEvent */
/**
 * @typedef {{turn_id: number, status: string, text: string, played_ms?: number,
 *   disconnected?: boolean}} TurnEndEvent
 */
/** @typedef {{turn_id: number, played_ms: number}} PlaybackEndEvent */
/** @typedef {{code: string, message: string, turn_id?: number | null}} ErrorEvent */
/** @typedef {{code: number, last_seq: number}} DisconnectedEvent */

/**
 * Every event of VoicewireClient, with its detail.
 * @typedef {object} VoicewireEventMap
 * @property {{state: ConnectionState}} state
 * @property {ServerMessage} ready session.ready: a new session
 * @property {ServerMessage & {last_seq: number}} resumed session.resumed: the session goes on
 * @property {ServerMessage} session session.updated
 * @property {ServerMessage} turnStart turn.start
 * @property {TextEvent} text the turn's text so far, and what came
 * @property {ServerMessage} data a data message (kind, payload)
 * @property {ServerMessage & {start_time?: number | null}} segment segment.start / segment.end
 * @property {WordEvent} word a word is being heard now
 * @property {TurnEndEvent} turnEnd
 * @property {PlaybackEndEvent} playbackEnd the turn's audio ended (played out or stopped)
 * @property {ErrorEvent} error
 * @property {DisconnectedEvent} disconnected the socket dropped; a resume follows
 * @property {ServerMessage} pong
 * @property {ServerMessage} speechStarted the user talks over the reply
 * @property {ServerMessage} transcript input_audio.transcript (utterance_id, text, final)
 * @property {ServerMessage} notice not an error: e.g. `speech_overloaded`, the turn is text only
 * @property {ServerMessage} toolCall tool.call: the model called a tool (call_id, name, arguments)
 * @property {ServerMessage} toolResult tool.result: it ended (call_id, status, duration_ms, result?)
 * @property {{turn_id: number, silence_ms: number, at_ms: number}} underrun playback ran dry
 *   (also sent to the server as `playback.underrun`)
 */

/**
 * A buffer as scheduled on the audio clock.
 * @typedef {object} BufferRecord
 * @property {number} turn_id
 * @property {number} segment_id
 * @property {number} sample_offset
 * @property {number} samples
 * @property {number} rate
 * @property {number} start
 * @property {number} end
 * @property {number | null} stopped_at
 */

/**
 * @typedef {object} OpusState
 * @property {number} skip
 * @property {number} timestamp
 * @property {Float32Array[]} outputs
 * @property {{count: number, resolve: (pcm: Float32Array) => void}[]} waiters
 * @property {AudioDecoder} decoder
 */

/**
 * @typedef {object} Segment
 * @property {import("./timing.js").Chunk[]} chunks
 * @property {number | null} char_start
 * @property {boolean} counted
 * @property {number | null} [endSamples] segment.end's samples (null: it never comes)
 * @property {((samples: number | null) => void)[] | null} [endWaiters]
 * @property {OpusState} [opus]
 * @property {Uint8Array[] | null} [mp3]
 */

/**
 * One turn's state on the client.
 * @typedef {object} Turn
 * @property {number} id
 * @property {string} text
 * @property {boolean} running
 * @property {boolean} ended
 * @property {boolean} dropped
 * @property {boolean} playbackEnded
 * @property {string | null} status
 * @property {number} rate
 * @property {BufferRecord[]} records
 * @property {Map<number, Segment>} segments
 * @property {number} pending scheduled buffers not yet ended
 * @property {number | null} frozenPlayed
 * @property {Promise<void> | null} chain opus/mp3: decode-and-schedule jobs, in order
 * @property {number} jobs jobs not finished yet
 */
