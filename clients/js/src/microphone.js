// @ts-check
// Microphone input for voicewire.v1: the user's voice up the same socket (PROTOCOL.md §2).
//
//   const mic = new Microphone(client, { end: "vad" });   // or "manual" (push-to-talk)
//   await mic.start();   // asks for the microphone; audio streams until stop()
//   mic.stop();          // sends input_audio.stop: the server ends the utterance now
//
// An AudioWorklet takes the microphone at the AudioContext's rate, downsamples it to 16 kHz
// (averaging each output sample's source window, which also filters above the new Nyquist)
// and posts 20 ms of pcm16; each becomes a binary frame of kind 2 (microphone). A session
// (new or resumed) does not keep the microphone on, so it is turned on again there.
import { CODEC, KIND, encodeFrame } from "./frames.js";

export const MIC_RATE = 16000;
const FRAME_SAMPLES = MIC_RATE / 50; // 20 ms

const WORKLET = `
class Downsampler extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.step = sampleRate / options.processorOptions.rate;
    this.frame = options.processorOptions.frame;
    this.out = new Int16Array(this.frame);
    this.n = 0;
    this.acc = 0;
    this.count = 0;
    this.pos = 0;
  }
  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    for (let i = 0; i < input.length; i++) {
      this.acc += input[i];
      this.count += 1;
      this.pos += 1;
      if (this.pos >= this.step) {
        this.pos -= this.step;
        const v = Math.max(-1, Math.min(1, this.acc / this.count));
        this.out[this.n++] = v < 0 ? v * 0x8000 : v * 0x7fff;
        this.acc = 0;
        this.count = 0;
        if (this.n === this.frame) {
          this.port.postMessage(this.out.buffer, [this.out.buffer]);
          this.out = new Int16Array(this.frame);
          this.n = 0;
        }
      }
    }
    return true;
  }
}
registerProcessor("voicewire-downsampler", Downsampler);
`;

/** @typedef {"vad" | "manual"} MicrophoneEnd */

/** @typedef {{active: boolean}} MicrophoneState */

export class Microphone extends EventTarget {
  /**
   * @param {import("./client.js").VoicewireClient} client
   * @param {{end?: MicrophoneEnd, voice?: boolean}} [options]
   */
  constructor(client, { end = "vad", voice = true } = {}) {
    super();
    this.client = client;
    this.end = end;
    this.voice = voice;
    this.active = false;
    this.sentFrames = 0;
    this._seq = 0;
    /** @type {(() => void)[]} */
    this._unsubscribe = [];
    /** @type {AudioContext | null} */
    this.ctx = null;
    /** @type {MediaStream | null} */
    this.stream = null;
    /** @type {MediaStreamAudioSourceNode | null} */
    this.source = null;
    /** @type {AudioWorkletNode | null} */
    this.node = null;
  }

  /** Ask for the microphone (call it from a user gesture) and stream it until stop(). */
  async start() {
    if (this.active) return;
    // The client's own AudioContext (created on this user gesture if need be).
    const ctx = (this.ctx = (await this.client.resumeAudio()) || new AudioContext());
    // Echo cancellation keeps the bot's own voice out (else it would barge in on itself);
    // noise suppression and gain control are off: they cost pocketsphinx words ("Paris" was
    // heard as "hurt them all" with them on).
    const stream = (this.stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        echoCancellation: true,
        noiseSuppression: false,
        autoGainControl: false,
        channelCount: 1,
      },
    }));
    const url = URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" }));
    try {
      await ctx.audioWorklet.addModule(url);
    } finally {
      URL.revokeObjectURL(url);
    }
    const source = (this.source = ctx.createMediaStreamSource(stream));
    const node = (this.node = new AudioWorkletNode(ctx, "voicewire-downsampler", {
      processorOptions: { rate: MIC_RATE, frame: FRAME_SAMPLES },
    }));
    node.port.onmessage = (event) => this._send(event.data);
    source.connect(node);
    this._announce();
    const again = () => this.active && this._announce();
    this._unsubscribe = [this.client.on("ready", again), this.client.on("resumed", again)];
    this.active = true;
    this.dispatchEvent(new CustomEvent("state", { detail: { active: true } }));
  }

  _announce() {
    this.client.sendJson({
      type: "input_audio.start",
      sample_rate: MIC_RATE,
      end: this.end,
      voice: this.voice,
    });
  }

  /** @param {ArrayBuffer} buffer 20 ms of 16 kHz pcm16 */
  _send(buffer) {
    const socket = this.client.socket;
    if (!this.active || !socket || socket.readyState !== WebSocket.OPEN) return;
    this._seq = (this._seq + 1) >>> 0;
    socket.send(
      encodeFrame({ kind: KIND.MICROPHONE, codec: CODEC.PCM16, seq: this._seq, payload: buffer }),
    );
    this.sentFrames += 1;
  }

  /** Stop streaming; the server ends the utterance now. */
  stop() {
    if (!this.active) return;
    this.active = false;
    for (const off of this._unsubscribe.splice(0)) off();
    this.client.sendJson({ type: "input_audio.stop" });
    if (this.node) {
      this.node.port.onmessage = null;
      this.node.disconnect();
    }
    if (this.source) this.source.disconnect();
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.dispatchEvent(new CustomEvent("state", { detail: { active: false } }));
  }
}
