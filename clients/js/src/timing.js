// @ts-check
// The player's scheduling arithmetic on the audio clock (seconds), apart from Web Audio so it
// runs (and is tested) in node.

/**
 * Where the next buffer starts: right after the previous one (gapless) when that is still far
 * enough ahead, else after a fresh lead (a `late` start: the queue ran dry).
 * @param {number} nextTime where the previous buffer ends (0: nothing queued)
 * @param {number} now the audio clock
 * @param {{minLead: number, startLead: number}} leads
 * @returns {{start: number, late: boolean}}
 */
export function placeBuffer(nextTime, now, { minLead, startLead }) {
  if (nextTime >= now + minLead) return { start: nextTime, late: false };
  return { start: now + startLead, late: true };
}

/**
 * A chunk of a segment as scheduled: its first sample's offset in the segment, and where it
 * starts on the audio clock.
 * @typedef {{offset: number, start: number, samples: number}} Chunk
 */

/**
 * Where sample `sample` of a segment plays on the audio clock: exact even across an underrun
 * gap, since each chunk carries its own start.
 * @param {Chunk[]} chunks the segment's chunks in order (at least one)
 * @param {number} sample
 * @param {number} rate samples per second
 */
export function timeOfSample(chunks, sample, rate) {
  let chunk = chunks[0];
  for (const c of chunks) {
    if (c.offset <= sample) chunk = c;
    else break;
  }
  return chunk.start + (sample - chunk.offset) / rate;
}

/**
 * A gap heard before a late buffer: `playback.underrun`'s fields (PROTOCOL.md §2).
 * @param {number} nextTime where the turn's audio before the buffer ran out (audio clock)
 * @param {number} start where the late buffer starts
 * @param {{samples: number, rate: number}[]} records the turn's buffers before it
 * @returns {{silence_ms: number, at_ms: number} | null} null: too short to report
 */
export function underrunOf(nextTime, start, records) {
  const silence = Math.round((start - nextTime) * 1000);
  if (!(silence >= 1)) return null;
  const at = records.reduce((s, r) => s + r.samples / r.rate, 0);
  return { silence_ms: Math.min(silence, 60000), at_ms: Math.round(at * 1000) };
}

/**
 * Seconds of `records` played by `now` (a record stopped early counts up to its stop).
 * @param {{start: number, end: number, stopped_at: number | null}[]} records
 * @param {number} now
 */
export function playedSeconds(records, now) {
  let s = 0;
  for (const r of records) {
    const end = r.stopped_at === null ? r.end : Math.min(r.end, r.stopped_at);
    s += Math.max(0, Math.min(now, end) - r.start);
  }
  return s;
}

/**
 * Insert `item` into `list` kept sorted by `time` (after the items of the same time).
 * @template {{time: number}} T
 * @param {T[]} list
 * @param {T} item
 */
export function insertByTime(list, item) {
  let i = list.length;
  while (i > 0 && list[i - 1].time > item.time) i--;
  list.splice(i, 0, item);
}
