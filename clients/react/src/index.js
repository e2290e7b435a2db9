// @ts-check
// @voicewire/react: useVoicewire(url, options) and <VoicewireProvider>.
export { useVoicewire, VoicewireProvider, useVoicewireContext } from "./hook.js";
export { reduce, initialState, EVENTS } from "./state.js";

/** @typedef {import("./hook.js").VoicewireHook} VoicewireHook */
/** @typedef {import("./hook.js").VoicewireHookOptions} VoicewireHookOptions */
/** @typedef {import("./state.js").VoicewireState} VoicewireState */
/** @typedef {import("./state.js").VoicewireMessage} VoicewireMessage */
/** @typedef {import("./state.js").SpokenWord} SpokenWord */
