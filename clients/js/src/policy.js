// @ts-check
// When a dropped connection is resumed and how long to wait before reconnecting (PROTOCOL.md
// §8). Pure: runs in node too; tested against tests/vectors/close_codes.json.

// Closes after which the session is resumed: the connection went, the session did not.
// 1006: no close frame at all; 1011: also an unanswered ping; 1013: a busy server; 4001: a
// slow consumer cut off. Any other code ended the session on purpose (1000 done, 4000 idle,
// 4002 resumed elsewhere, policy, bad data) and is not resumed. The Python client has the
// same table (protocol/errors.py).
export const RESUMABLE_CLOSE_CODES = new Set([1001, 1006, 1011, 1012, 1013, 4001]);

/**
 * Whether a close with `code` leaves a session to resume.
 * @param {number} code
 */
export function isResumableClose(code) {
  return RESUMABLE_CLOSE_CODES.has(code);
}

/**
 * Whether a close with `code` is worth an `error` event (the quiet ones: done, going away,
 * a dropped connection).
 * @param {number} code
 */
export function isReportedClose(code) {
  return code !== 1000 && code !== 1001 && code !== 1006;
}

/**
 * The delay before reconnect attempt number `attempt` (0-based): exponential, capped, with
 * ±20 % jitter so clients cut off together do not come back together.
 * @param {number} attempt
 * @param {{backoffMs: number, maxBackoffMs: number}} limits
 * @param {() => number} [random] a number in [0, 1)
 * @returns {number} ms
 */
export function backoffDelay(attempt, { backoffMs, maxBackoffMs }, random = Math.random) {
  const base = Math.min(maxBackoffMs, backoffMs * 2 ** attempt);
  return Math.round(base * (0.8 + 0.4 * random()));
}
