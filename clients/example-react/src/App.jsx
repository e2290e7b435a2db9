import React, { useState } from "react";
import { useVoicewireContext } from "@voicewire/react";

// The reply's text with the word being spoken in <mark>.
function Spoken({ text, word }) {
  if (!word || word.end16 > text.length) return text;
  return (
    <>
      {text.slice(0, word.start16)}
      <mark>{text.slice(word.start16, word.end16)}</mark>
      {text.slice(word.end16)}
    </>
  );
}

export function App() {
  const vw = useVoicewireContext();
  const [draft, setDraft] = useState("");

  const submit = (event) => {
    event.preventDefault();
    const text = draft.trim();
    if (!text) return;
    vw.send(text);
    setDraft("");
  };

  return (
    <main style={{ maxWidth: 640, margin: "0 auto", fontFamily: "system-ui, sans-serif" }}>
      <h1>voicewire · React</h1>
      <p id="status" data-status={vw.status}>
        {vw.resuming ? "Reconnecting…" : vw.status}
        {vw.speaking ? " · speaking" : ""}
      </p>
      <ol id="messages" aria-live="polite">
        {vw.messages.map((m) => (
          <li key={m.id} className={m.role} data-status={m.status} data-turn={m.turnId ?? undefined}>
            <strong>{m.role === "user" ? "You" : "Bot"}: </strong>
            <span className="text">
              {m.role === "assistant" ? <Spoken text={m.text} word={m.word} /> : m.text}
            </span>
          </li>
        ))}
      </ol>
      {vw.error && (
        <p role="alert">
          {vw.error.message} <button onClick={vw.clearError}>×</button>
        </p>
      )}
      <form id="composer" onSubmit={submit}>
        <input
          id="message"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          placeholder="Ask something…"
          aria-label="Message"
        />
        <button id="send" type="submit" disabled={vw.status !== "open"}>
          Send
        </button>
        <button id="stop" type="button" onClick={vw.stop} disabled={!vw.speaking}>
          Stop
        </button>
        <button
          id="mic"
          type="button"
          aria-pressed={vw.microphone}
          onClick={() => (vw.microphone ? vw.stopMicrophone() : vw.startMicrophone())}
        >
          {vw.microphone ? "■ Listening" : "🎤 Talk"}
        </button>
      </form>
    </main>
  );
}
