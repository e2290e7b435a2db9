// The five-line fix of docs/compat.md: play the segments one after another, not all at once.
let audioQueue = Promise.resolve();
function playBase64Audio(base64Audio) {
  const audio = new Audio(URL.createObjectURL(base64ToBlob(base64Audio, "audio/mpeg")));
  audioQueue = audioQueue.then(() => new Promise((done) => {
    audio.onended = audio.onerror = done;
    audio.play().catch(done);
  }));
}
