// A RealtimeSession of openai-agents-js whose agent has a function tool, its WebSocket
// transport pointed at voicewire's /v1/realtime: the model calls the tool, the session runs it
// and sends its output, and the next response speaks the result.
// Prints one JSON object with what it saw; tests/realtime/test_agents_js.py judges it.
// Usage: node agent_tools.mjs ws://127.0.0.1:PORT/v1/realtime API_KEY
import {
  OpenAIRealtimeWebSocket,
  RealtimeAgent,
  RealtimeSession,
  tool,
} from '@openai/agents-realtime';

const [url, apiKey] = process.argv.slice(2);
const calls = [];
const getWeather = tool({
  name: 'get_weather',
  description: 'The weather now in a city.',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
  strict: true,
  execute: async (args) => {
    calls.push(args);
    return JSON.stringify({ celsius: 21, sky: 'sunny' });
  },
});
const agent = new RealtimeAgent({
  name: 'voicewire',
  instructions: 'Answer briefly.',
  tools: [getWeather],
});
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
const watchdog = setTimeout(() => {
  console.log(JSON.stringify({ error: 'timed out', types: seen.map((e) => e.type) }));
  process.exit(2);
}, 60000);

await session.connect({ apiKey, url });
await next((e) => e.type === 'session.updated');
const declared = seen.filter((e) => e.type === 'session.updated').at(-1).session.tools;

session.sendMessage("What's the weather in Paris?");
const spoken = await next(
  (e) => e.type === 'response.done' && e.response.output.some((o) => o.type === 'message'),
);
const transcript = seen
  .filter((e) => e.type === 'response.output_audio_transcript.delta')
  .map((e) => e.delta)
  .join('');
clearTimeout(watchdog);
console.log(
  JSON.stringify({
    declared: declared.map((t) => t.name),
    calls,
    responses: seen
      .filter((e) => e.type === 'response.done')
      .map((e) => [e.response.status, e.response.output.map((o) => o.type)]),
    transcript,
    status: spoken.response.status,
    errors: seen.filter((e) => e.type === 'error').map((e) => e.error),
  }),
);
session.close();
process.exit(0);
