import { defineConfig } from "vite";

// `npm run dev` proxies the socket to a voicewire server on :8000 (`make run`); the build
// uses relative paths so it can be served from any directory of that server's origin.
export default defineConfig({
  base: "./",
  server: {
    proxy: { "/ws": { target: "ws://127.0.0.1:8000", ws: true } },
  },
});
