// @ts-check
// useVoicewire(url, options): one VoicewireClient for the component's life, its events folded
// into React state (state.js), and the actions an app needs.
import { createContext, createElement, useCallback, useContext, useEffect, useReducer, useRef } from "react";
import { Microphone, VoicewireClient } from "@voicewire/client";
import { EVENTS, initialState, reduce } from "./state.js";

/**
 * @typedef {object} VoicewireHookOptions
 * @property {"vad" | "manual"} [microphoneEnd] how an utterance ends (default "vad")
 */

/**
 * @typedef {import("./state.js").VoicewireState & {
 *   send: (text: string, options?: {voice?: boolean}) => string | null,
 *   stop: () => {turn_id: number, played_ms: number} | null,
 *   startMicrophone: () => Promise<void>,
 *   stopMicrophone: () => void,
 *   clearError: () => void,
 *   client: VoicewireClient | null,
 * }} VoicewireHook
 */

let localIds = 0;

/**
 * Connect to a voicewire server for as long as the component is mounted (a new `url`
 * reconnects; `options` are read when the client is created).
 * @param {string} [url] the /ws URL (default: this page's host)
 * @param {import("@voicewire/client").VoicewireOptions & VoicewireHookOptions} [options]
 * @returns {VoicewireHook}
 */
export function useVoicewire(url, options = {}) {
  const [state, dispatch] = useReducer(reduce, undefined, initialState);
  /** @type {import("react").RefObject<VoicewireClient | null>} */
  const clientRef = useRef(null);
  /** @type {import("react").RefObject<Microphone | null>} */
  const micRef = useRef(null);
  const optionsRef = useRef(options);
  optionsRef.current = options;

  useEffect(() => {
    const client = new VoicewireClient(url, optionsRef.current);
    clientRef.current = client;
    const offs = EVENTS.map((type) => client.on(type, (detail) => dispatch({ type, detail })));
    client.connect();
    return () => {
      if (micRef.current) micRef.current.stop();
      micRef.current = null;
      for (const off of offs) off();
      client.destroy();
      if (clientRef.current === client) clientRef.current = null;
    };
  }, [url]);

  const send = useCallback((/** @type {string} */ text, /** @type {{voice?: boolean}} */ sendOptions = {}) => {
    const client = clientRef.current;
    const id = client ? client.send(text, sendOptions) : null;
    dispatch({ type: "sent", detail: { id: id || `local-${++localIds}`, text, ok: id !== null } });
    return id;
  }, []);

  const stop = useCallback(() => (clientRef.current ? clientRef.current.stop() : null), []);

  const startMicrophone = useCallback(async () => {
    const client = clientRef.current;
    if (!client || (micRef.current && micRef.current.active)) return;
    const mic = new Microphone(client, {
      end: optionsRef.current.microphoneEnd || "vad",
      voice: optionsRef.current.voice !== false,
    });
    mic.addEventListener("state", (e) => {
      dispatch({ type: "microphone", detail: /** @type {CustomEvent<{active: boolean}>} */ (e).detail });
    });
    micRef.current = mic;
    await mic.start();
  }, []);

  const stopMicrophone = useCallback(() => {
    if (micRef.current) micRef.current.stop();
  }, []);

  const clearError = useCallback(() => dispatch({ type: "clearError", detail: null }), []);

  return { ...state, send, stop, startMicrophone, stopMicrophone, clearError, client: clientRef.current };
}

const VoicewireContext = createContext(/** @type {VoicewireHook | null} */ (null));

/**
 * One connection for a whole tree: children read it with useVoicewireContext().
 * @param {{url?: string, options?: import("@voicewire/client").VoicewireOptions & VoicewireHookOptions,
 *   children?: import("react").ReactNode}} props
 */
export function VoicewireProvider({ url, options, children }) {
  const value = useVoicewire(url, options);
  return createElement(VoicewireContext.Provider, { value }, children);
}

/**
 * The connection of the nearest VoicewireProvider.
 * @returns {VoicewireHook}
 */
export function useVoicewireContext() {
  const value = useContext(VoicewireContext);
  if (!value) throw new Error("useVoicewireContext() needs a <VoicewireProvider> above it");
  return value;
}
