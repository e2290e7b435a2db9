// Microphone input for voicewire.v1: the user's voice up the same socket (PROTOCOL.md §2).
//
//   const mic = new Microphone(client, { end: "vad" });   // or "manual" (push-to-talk)
//   await mic.start();   // asks for the microphone; audio streams until stop()
//   mic.stop();          // sends input_audio.stop: the server ends the utterance now
//
// An AudioWorklet takes the microphone at the AudioContext's rate, downsamples it to 16 kHz
// (averaging each output sample's source window, which also filters above the new Nyquist)
// and posts 20 ms of pcm16; each becomes a binary frame of kind 2 (microphone).
import { CODEC, KIND, encodeFrame } from "./voicewire.js";

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

export class Microphone extends EventTarget {
  constructor(client, { end = "vad", voice = true } = {}) {
    super();
    this.client = client;
    this.end = end;
    this.voice = voice;
    this.active = false;
    this.sentFrames = 0;
    this._seq = 0;
  }

  async start() {
    if (this.active) return;
    // The client's own AudioContext (created on this user gesture if need be).
    this.ctx = (await this.client.resumeAudio()) || new AudioContext();
    // Echo cancellation keeps the bot's own voice out (else it would barge in on itself);
    // noise suppression and gain control are off: they cost pocketsphinx words ("Paris" was
    // heard as "hurt them all" with them on).
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        echoCancellation: true,
        noiseSuppression: false,
        autoGainControl: false,
        channelCount: 1,
      },
    });
    const url = URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" }));
    try {
      await this.ctx.audioWorklet.addModule(url);
    } finally {
      URL.revokeObjectURL(url);
    }
    this.source = this.ctx.createMediaStreamSource(this.stream);
    this.node = new AudioWorkletNode(this.ctx, "voicewire-downsampler", {
      processorOptions: { rate: MIC_RATE, frame: FRAME_SAMPLES },
    });
    this.node.port.onmessage = (event) => this._send(event.data);
    this.source.connect(this.node);
    this.client._sendJson({
      type: "input_audio.start",
      sample_rate: MIC_RATE,
      end: this.end,
      voice: this.voice,
    });
    this.active = true;
    this.dispatchEvent(new CustomEvent("state", { detail: { active: true } }));
  }

  _send(buffer) {
    const socket = this.client.socket;
    if (!this.active || !socket || socket.readyState !== WebSocket.OPEN) return;
    this._seq = (this._seq + 1) >>> 0;
    socket.send(
      encodeFrame({ kind: KIND.MICROPHONE, codec: CODEC.PCM16, seq: this._seq, payload: buffer }),
    );
    this.sentFrames += 1;
  }

  stop() {
    if (!this.active) return;
    this.active = false;
    this.client._sendJson({ type: "input_audio.stop" });
    this.node.port.onmessage = null;
    this.source.disconnect();
    this.node.disconnect();
    for (const track of this.stream.getTracks()) track.stop();
    this.dispatchEvent(new CustomEvent("state", { detail: { active: false } }));
  }
}

export default Microphone;
