// Stand-ins for the browser APIs the client uses, so its modules run in node: a WebSocket the
// test drives by hand and an AudioContext whose clock the test sets.

export class FakeWebSocket {
  static OPEN = 1;
  static CLOSED = 3;
  /** @type {FakeWebSocket[]} */
  static all = [];

  constructor(url, protocol) {
    this.url = url;
    this.protocol = protocol;
    this.readyState = 0;
    this.sent = [];
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    FakeWebSocket.all.push(this);
  }
  send(data) {
    this.sent.push(typeof data === "string" ? JSON.parse(data) : data);
  }
  close(code = 1000) {
    this.readyState = FakeWebSocket.CLOSED;
    this.closedWith = code;
  }
  // Test side: the server's end.
  serverOpen() {
    this.readyState = FakeWebSocket.OPEN;
    this.onopen?.({});
  }
  serverSend(data) {
    this.onmessage?.({ data: typeof data === "string" ? data : data });
  }
  serverJson(message) {
    this.serverSend(JSON.stringify(message));
  }
  serverClose(code) {
    this.readyState = FakeWebSocket.CLOSED;
    this.onclose?.({ code, reason: "" });
  }
}

class FakeNode {
  constructor(ctx) {
    this.ctx = ctx;
    this.connected = [];
    this.stoppedAt = null;
    this.onended = null;
  }
  connect(node) {
    this.connected.push(node);
    return node;
  }
  disconnect() {
    this.connected = [];
  }
  start(when) {
    this.startedAt = when;
    this.ctx.started.push(this);
  }
  stop() {
    this.stoppedAt = this.ctx.currentTime;
  }
}

export class FakeAudioContext {
  constructor(options = {}) {
    this.sampleRate = options.sampleRate ?? 48000;
    this.currentTime = 0;
    this.outputLatency = 0;
    this.baseLatency = 0;
    this.state = "running";
    this.destination = new FakeNode(this);
    /** @type {FakeNode[]} every source started, in order */
    this.started = [];
  }
  createGain() {
    return new FakeNode(this);
  }
  createBuffer(channels, length, rate) {
    return { length, sampleRate: rate, duration: length / rate, copyToChannel() {} };
  }
  createBufferSource() {
    return new FakeNode(this);
  }
  resume() {
    return Promise.resolve();
  }
  close() {
    this.state = "closed";
    return Promise.resolve();
  }
}
