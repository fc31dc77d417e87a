// AudioWorklet processor: microphone audio at the context's rate -> 16 kHz mono PCM s16le,
// posted to the main thread as 100 ms frames (3200-byte ArrayBuffers, transferred, not copied).
// `sampleRate` is the AudioContext's rate (often 44.1 or 48 kHz), a global of the worklet scope.

const TARGET_RATE = 16000;
const FRAME_SAMPLES = 1600; // 100 ms at 16 kHz
const TAPS = 63;            // low-pass length: odd, so the filter is symmetric around one sample

/** Windowed-sinc (Blackman) low-pass taps with unity DC gain; cutoff as a fraction of the input rate. */
function lowPassTaps(cutoff) {
  const taps = new Float32Array(TAPS);
  const middle = (TAPS - 1) / 2;
  let sum = 0;
  for (let i = 0; i < TAPS; i++) {
    const x = i - middle;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const blackman = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (TAPS - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (TAPS - 1));
    taps[i] = sinc * blackman;
    sum += taps[i];
  }
  for (let i = 0; i < TAPS; i++) taps[i] /= sum;
  return taps;
}

class Pcm16kRecorder extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / TARGET_RATE; // input samples per output sample
    // Filter below 16 kHz's Nyquist (with some room) before dropping samples, or speech aliases.
    this.taps = this.step > 1 ? lowPassTaps((0.45 * TARGET_RATE) / sampleRate) : null;
    this.history = new Float32Array(TAPS); // the last TAPS input samples, as a ring
    this.head = 0;
    this.previous = 0;  // the last filtered sample, for interpolating between two of them
    this.position = 0;  // where the next output sample lies, in input samples after the current one
    this.frame = new Int16Array(FRAME_SAMPLES);
    this.used = 0;
    this.port.onmessage = (event) => {
      if (event.data === "flush") this.flush();
    };
  }

  /** The filtered value of the newest input sample (plain copy when no rate change is needed). */
  filter(sample) {
    if (!this.taps) return sample;
    this.history[this.head] = sample;
    this.head = (this.head + 1) % TAPS;
    let acc = 0;
    let index = this.head; // oldest sample first; the taps are symmetric, so the order is moot
    for (let i = 0; i < TAPS; i++) {
      acc += this.taps[i] * this.history[index];
      index = index + 1 === TAPS ? 0 : index + 1;
    }
    return acc;
  }

  /** Linear interpolation between filtered samples at every output position (exact for 48 kHz). */
  push(sample) {
    const current = this.filter(sample);
    while (this.position <= 0) {
      this.emit(this.previous + (current - this.previous) * (1 + this.position));
      this.position += this.step;
    }
    this.previous = current;
    this.position -= 1;
  }

  emit(value) {
    const clamped = Math.max(-1, Math.min(1, value));
    this.frame[this.used++] = Math.round(clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff);
    if (this.used === FRAME_SAMPLES) {
      const buffer = this.frame.buffer;
      this.port.postMessage({ frame: buffer }, [buffer]);
      this.frame = new Int16Array(FRAME_SAMPLES);
      this.used = 0;
    }
  }

  /** Hand over the partial last frame (possibly empty), then tell the main thread it has everything. */
  flush() {
    const last = this.frame.slice(0, this.used).buffer;
    this.used = 0;
    this.port.postMessage({ frame: last, flushed: true }, [last]);
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0]; // the node mixes its input down to one channel
    if (channel) {
      for (let i = 0; i < channel.length; i++) this.push(channel[i]);
    }
    return true;
  }
}

registerProcessor("pcm16k-recorder", Pcm16kRecorder);
