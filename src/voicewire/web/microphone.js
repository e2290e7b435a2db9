// The microphone is part of the client package now (clients/js/src/microphone.js); this file
// stays for pages that import it from /microphone.js.
export { MIC_RATE, Microphone, Microphone as default } from "./voicewire.js";
