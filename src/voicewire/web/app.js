// The demo chat page. Message text only ever goes into the DOM as text nodes (never as HTML).
// It uses the client package as an app would: its public API only (the server's /voicewire.js
// is the package @voicewire/client built into one file).
import { Microphone, VoicewireClient, defaultUrl } from "./voicewire.js";

const $ = (id) => document.getElementById(id);
const log = $("log");
const form = $("composer");
const input = $("message");
const sendButton = $("send");
const stopButton = $("stop");
const voiceToggle = $("voice");
const voicePicker = $("voice-name");
const conn = $("conn");
const connLabel = $("conn-label");
const errorBox = $("error");
const errorText = $("error-text");

// Relative to the page, so the demo also works when voicewire is mounted (/voice/ → /voice/ws).
const client = new VoicewireClient(defaultUrl(new URL("ws", globalThis.location.href).pathname), {
  voice: voiceToggle.checked,
});
window.voicewire = client;

const STATE_LABELS = {
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  closed: "Offline",
};
const STATUS_LABELS = { interrupted: "Stopped", failed: "Failed" };

let bots = new Map(); // turn_id → {item, bubble, cards, meta, text, mark}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function nearBottom() {
  return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
}

function append(node) {
  const stick = nearBottom();
  log.append(node);
  if (stick) log.scrollTop = log.scrollHeight;
}

function addUser(text) {
  const item = el("li", "msg user");
  item.append(el("p", "bubble", text));
  append(item);
  return item;
}

function bot(turnId) {
  let entry = bots.get(turnId);
  if (!entry) {
    const item = el("li", "msg bot");
    item.dataset.turn = String(turnId);
    if (client.session) item.dataset.session = client.session.session_id; // turn ids are per session
    item.dataset.status = "running";
    const bubble = el("p", "bubble");
    bubble.setAttribute("aria-busy", "true");
    const cards = el("div", "cards");
    const meta = el("p", "meta");
    item.append(bubble, cards, meta);
    append(item);
    entry = { item, bubble, cards, meta, text: "", mark: null };
    bots.set(turnId, entry);
  }
  return entry;
}

// Text with the spoken word wrapped in <mark>, built from text nodes only.
function render(entry) {
  const stick = nearBottom();
  const { bubble, text, mark } = entry;
  if (!mark || mark[1] > text.length) {
    bubble.textContent = text;
  } else {
    const [s, e] = mark;
    bubble.replaceChildren(
      document.createTextNode(text.slice(0, s)),
      el("mark", "", text.slice(s, e)),
      document.createTextNode(text.slice(e)),
    );
  }
  if (stick) log.scrollTop = log.scrollHeight;
}

function formatValue(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function card(kind, payload) {
  const box = el("section", "card");
  box.append(el("h2", "card-title", kind));
  if (payload && typeof payload === "object" && !Array.isArray(payload)) {
    const list = el("dl");
    for (const [key, value] of Object.entries(payload)) {
      list.append(el("dt", "", key), el("dd", "", formatValue(value)));
    }
    box.append(list);
  } else {
    box.append(el("p", "", formatValue(payload)));
  }
  return box;
}

let errorTimer = null;
function showError(message) {
  errorText.textContent = message;
  errorBox.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => {
    errorBox.hidden = true;
  }, 10000);
}

function updateControls() {
  const open = client.state === "open";
  sendButton.disabled = !open;
  stopButton.disabled = !client.busy;
}

// --- client events ------------------------------------------------------------------------------

client.on("state", ({ state }) => {
  if (state !== "open") delete conn.dataset.resumed;
  conn.dataset.state = state;
  connLabel.textContent = STATE_LABELS[state] || state;
  updateControls();
});

client.on("ready", (ready) => {
  bots = new Map(); // turn ids start again at 1 in a new session
  listVoices(ready);
  updateControls();
});

// The voices the server lists, with their language and rate; the chosen one speaks next turns.
function listVoices(ready) {
  const info = ready.voice_info?.length
    ? ready.voice_info
    : (ready.voices || []).map((name) => ({ name }));
  const chosen = voicePicker.value || ready.voice_name;
  voicePicker.replaceChildren(
    ...info.map((v) => {
      const details = [v.language, v.sample_rate && `${v.sample_rate / 1000} kHz`].filter(Boolean);
      const label = details.length ? `${v.name} (${details.join(", ")})` : v.name;
      return new Option(label, v.name, false, v.name === chosen);
    }),
  );
  // (A new session after a reconnect gets the chosen voice again from the client's setVoice.)
  voicePicker.hidden = info.length < 2;
}

// A dropped connection came back and the session went on where it was (PROTOCOL.md §8).
let resumedTimer = null;
client.on("resumed", () => {
  conn.dataset.resumed = "true";
  connLabel.textContent = "Reconnected";
  clearTimeout(resumedTimer);
  resumedTimer = setTimeout(() => {
    delete conn.dataset.resumed;
    connLabel.textContent = STATE_LABELS[client.state] || client.state;
  }, 3000);
  updateControls();
});

client.on("turnStart", ({ turn_id }) => {
  bot(turn_id);
  updateControls();
});

client.on("text", ({ turn_id, text }) => {
  const entry = bot(turn_id);
  entry.text = text;
  render(entry);
});

client.on("word", ({ turn_id, start16, end16 }) => {
  const entry = bots.get(turn_id);
  if (!entry) return;
  entry.mark = [start16, end16];
  render(entry);
});

client.on("playbackEnd", ({ turn_id }) => {
  const entry = bots.get(turn_id);
  if (entry && entry.mark) {
    entry.mark = null;
    render(entry);
  }
  updateControls();
});

client.on("data", ({ turn_id, kind, payload }) => {
  const stick = nearBottom();
  bot(turn_id).cards.append(card(kind, payload));
  if (stick) log.scrollTop = log.scrollHeight;
});

client.on("turnEnd", ({ turn_id, status }) => {
  const entry = bot(turn_id);
  entry.item.dataset.status = status;
  entry.bubble.removeAttribute("aria-busy");
  entry.meta.textContent = STATUS_LABELS[status] || "";
  updateControls();
});

client.on("notice", ({ turn_id, message }) => {
  // speech_overloaded: the server is speaking all the replies it can; this one is text only.
  if (turn_id) bot(turn_id).item.append(el("p", "meta", message));
});

client.on("error", ({ message, code }) => {
  showError(message || code || "Something went wrong");
});

// --- controls -----------------------------------------------------------------------------------

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  const item = addUser(text);
  if (client.send(text, { voice: voiceToggle.checked }) === null) {
    item.classList.add("failed");
    item.append(el("p", "meta", "Not sent"));
    return;
  }
  input.value = "";
  input.focus();
  updateControls();
});

stopButton.addEventListener("click", () => {
  client.stop();
  updateControls();
  input.focus();
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && client.busy) {
    client.stop();
    updateControls();
  }
});

voiceToggle.addEventListener("change", () => {
  client.setVoice({ voice: voiceToggle.checked });
});

voicePicker.addEventListener("change", () => {
  client.setVoice({ voice_name: voicePicker.value });
});

// --- microphone: the live transcript is the user's bubble ----------------------------------------

const micButton = $("mic");
let mic = null;
const spoken = new Map(); // utterance_id → the user's bubble

client.on("transcript", ({ utterance_id, text, final }) => {
  let item = spoken.get(utterance_id);
  if (!item && text) {
    item = addUser(text);
    spoken.set(utterance_id, item);
  }
  if (!item) return;
  item.querySelector(".bubble").textContent = text || "…";
  item.classList.toggle("partial", !final);
  if (final) spoken.delete(utterance_id);
  showInterimInInput(text, final);
});

// Interim transcripts also show in the input box as the user talks (unless they are typing);
// the final one becomes the user's message on the server, so the box is cleared then.
let interimInInput = false;
function showInterimInInput(text, final) {
  if (!final && text && (interimInInput || !input.value)) {
    input.value = text;
    interimInInput = true;
  } else if (final && interimInInput) {
    input.value = "";
    interimInInput = false;
  }
}
input.addEventListener("input", () => {
  interimInInput = false;
});

micButton.addEventListener("click", async () => {
  if (mic && mic.active) {
    mic.stop();
    return;
  }
  mic = new Microphone(client, { end: "vad", voice: voiceToggle.checked });
  mic.addEventListener("state", ({ detail }) => {
    micButton.setAttribute("aria-pressed", String(detail.active));
    micButton.querySelector(".label").textContent = detail.active ? "Listening" : "Talk";
  });
  try {
    await mic.start();
  } catch (error) {
    showError(`Microphone unavailable: ${error.message || error}`);
  }
});
window.voicewireMic = () => mic;

$("error-close").addEventListener("click", () => {
  errorBox.hidden = true;
});

updateControls();
client.connect();
