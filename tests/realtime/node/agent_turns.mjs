// A RealtimeSession of openai-agents-js, its WebSocket transport pointed at voicewire's
// /v1/realtime: one text turn spoken to its end, then one interrupted (cancel + truncate).
// Prints one JSON object with what it saw; tests/realtime/test_agents_js.py judges it.
// Usage: node agent_turns.mjs ws://127.0.0.1:PORT/v1/realtime API_KEY
import { OpenAIRealtimeWebSocket, RealtimeAgent, RealtimeSession } from '@openai/agents-realtime';

const [url, apiKey] = process.argv.slice(2);
const agent = new RealtimeAgent({ name: 'voicewire', instructions: 'Answer briefly.' });
const transport = new OpenAIRealtimeWebSocket({ url });
const session = new RealtimeSession(agent, { transport, model: 'voicewire' });
const seen = [];
const waiters = [];
transport.on('*', (event) => {
  seen.push(event);
  for (const w of [...waiters]) {
    if (w.test(event)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(event);
    }
  }
});
const next = (test) => new Promise((resolve) => waiters.push({ test, resolve }));
const ofType = (type) => next((e) => e.type === type);
const audioBytes = (events) =>
  events
    .filter((e) => e.type === 'response.output_audio.delta')
    .reduce((n, e) => n + Buffer.from(e.delta, 'base64').length, 0);

const result = {};
const watchdog = setTimeout(() => {
  console.log(JSON.stringify({ error: 'timed out', types: seen.map((e) => e.type) }));
  process.exit(2);
}, 60000);

await session.connect({ apiKey, url });
await ofType('session.updated'); // the transport's initial session.update was accepted

// 1. A text turn, spoken to its end.
let start = seen.length;
session.sendMessage('Tell me about the flat');
const done = await ofType('response.done');
const first = seen.slice(start);
result.first = {
  status: done.response.status,
  transcript: first
    .filter((e) => e.type === 'response.output_audio_transcript.delta')
    .map((e) => e.delta)
    .join(''),
  audioBytes: audioBytes(first),
  errors: first.filter((e) => e.type === 'error').map((e) => e.error),
};

// 2. Interrupted once some audio came: the transport cancels and truncates.
start = seen.length;
session.sendMessage('And the price?');
await next(() => audioBytes(seen.slice(start)) >= 24000 * 2 * 0.5);
const truncated = ofType('conversation.item.truncated');
const cancelled = ofType('response.done');
session.interrupt();
const [cut, end] = await Promise.all([truncated, cancelled]);
transport.sendEvent({ type: 'conversation.item.retrieve', item_id: cut.item_id });
const retrieved = await ofType('conversation.item.retrieved');
result.second = {
  status: end.response.status,
  audioEndMs: cut.audio_end_ms,
  heard: retrieved.item.content[0].transcript,
  generated: end.response.output[0]?.content?.[0]?.transcript ?? null,
  errors: seen.slice(start).filter((e) => e.type === 'error').map((e) => e.error),
};
clearTimeout(watchdog);
console.log(JSON.stringify(result));
session.close();
process.exit(0);
