import React from "react";
import { createRoot } from "react-dom/client";
import { VoicewireProvider } from "@voicewire/react";
import { App } from "./App.jsx";

// The socket of the server this page came from (the dev server proxies it).
const url = new URL("/ws", window.location.href);
url.protocol = url.protocol === "https:" ? "wss:" : "ws:";

createRoot(document.getElementById("root")).render(
  <React.StrictMode>
    <VoicewireProvider url={url.href} options={{ voice: true }}>
      <App />
    </VoicewireProvider>
  </React.StrictMode>,
);
