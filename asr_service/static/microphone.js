// The microphone as 100 ms frames of 16 kHz mono PCM s16le, captured by an AudioWorklet.

/**
 * Ask for the microphone and start capturing; onFrame(ArrayBuffer) gets each frame in order.
 * Resolves to { sampleRate, stop }, where stop() delivers the partial last frame before it resolves.
 * Call it from a click handler: browsers only start audio after a user gesture.
 */
export async function openMicrophone(onFrame) {
  const stream = await navigator.mediaDevices.getUserMedia({
    // Raw audio: the recogniser copes with noise better than with processing artefacts.
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  // The device's own rate: the worklet resamples to 16 kHz itself, whatever the rate is.
  const context = new AudioContext();
  try {
    await context.audioWorklet.addModule(new URL("./recorder-worklet.js", import.meta.url));
  } catch (error) {
    stream.getTracks().forEach((track) => track.stop());
    await context.close();
    throw error;
  }
  const source = context.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(context, "pcm16k-recorder", {
    numberOfInputs: 1,
    numberOfOutputs: 0,
    channelCount: 1,
    channelCountMode: "explicit", // down-mix a stereo microphone to mono
  });
  let flushed;
  const allDelivered = new Promise((resolve) => { flushed = resolve; });
  node.port.onmessage = ({ data }) => {
    if (data.frame.byteLength) onFrame(data.frame);
    if (data.flushed) flushed();
  };
  source.connect(node);
  await context.resume();

  async function stop() {
    source.disconnect();
    stream.getTracks().forEach((track) => track.stop());
    node.port.postMessage("flush");
    await allDelivered;
    await context.close();
  }
  return { sampleRate: context.sampleRate, stop };
}
