// The result view shared by both tabs: text, clickable sentences that play their span, downloads.

const $ = (id) => document.getElementById(id);

/** "HH:MM:SS.mmm" for a time in milliseconds. */
function clock(ms) {
  const total = Math.max(0, Math.round(ms));
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor(total / 60_000) % 60;
  const seconds = Math.floor(total / 1000) % 60;
  return `${pad(hours)}:${pad(minutes)}:${pad(seconds)}.${pad(total % 1000, 3)}`;
}

/** Let the browser save `blob` as `filename`. */
export function saveBlob(blob, filename) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000); // the download may start a moment later
}

export class ResultView {
  constructor() {
    this.result = null;
    this.onError = null; // (error) => void: a download from the server failed
    this.audioUrl = null;
    this.stopAt = Infinity;
    this.player = $("player");
    this.player.addEventListener("timeupdate", () => {
      if (this.player.currentTime >= this.stopAt) this.player.pause();
    });
    this.player.addEventListener("pause", () => this.#markPlaying(null));
    for (const format of ["txt", "srt", "vtt"]) $(`download-${format}`).onclick = () => this.#download(format);
    $("download-wav").onclick = () => this.result.wav && saveBlob(this.result.wav, `${this.result.name}.wav`);
  }

  hide() {
    $("result").hidden = true;
  }

  /**
   * Show a result: {text, sentences: [{text, start_ms, end_ms}], durationMs, name, audio: Blob|null,
   * wav: Blob|null, download: (format) => Promise<Blob>}. `audio` is what the sentences play from;
   * `wav` is offered as a download; `download` gets TXT, SRT or VTT from the server (a recording's
   * from its stored result, an upload's from its sentences), so every download has the server's format.
   */
  show(result) {
    this.result = result;
    $("result-text").textContent = result.text || "（没有识别到语音 no speech recognised）";
    $("result-meta").textContent = `${(result.durationMs / 1000).toFixed(1)} s · ${result.sentences.length} 句 sentences`;
    $("sentences").replaceChildren(...result.sentences.map((s, i) => this.#sentenceItem(s, i)));
    if (this.audioUrl) URL.revokeObjectURL(this.audioUrl);
    this.audioUrl = result.audio ? URL.createObjectURL(result.audio) : null;
    this.player.hidden = !this.audioUrl;
    if (this.audioUrl) this.player.src = this.audioUrl;
    else this.player.removeAttribute("src");
    $("download-wav").hidden = !result.wav;
    $("result").hidden = false;
  }

  #sentenceItem(sentence, index) {
    const item = document.createElement("li");
    item.dataset.index = String(index);
    item.dataset.startMs = String(sentence.start_ms);
    item.dataset.endMs = String(sentence.end_ms);
    const time = document.createElement("time");
    time.textContent = `${clock(sentence.start_ms)} – ${clock(sentence.end_ms)}`;
    item.append(time, document.createTextNode(sentence.text));
    item.onclick = () => this.play(index);
    return item;
  }

  /** Play one sentence's span of the audio. */
  play(index) {
    const sentence = this.result?.sentences[index];
    if (!sentence || !this.audioUrl) return;
    this.stopAt = sentence.end_ms / 1000;
    this.player.currentTime = sentence.start_ms / 1000;
    this.#markPlaying(index);
    // play() rejects when a later click interrupts it; that is expected, not an error.
    this.player.play().catch(() => {});
  }

  #markPlaying(index) {
    for (const item of $("sentences").children) {
      item.classList.toggle("playing", item.dataset.index === String(index));
    }
  }

  async #download(format) {
    const result = this.result;
    if (!result) return;
    let blob;
    try {
      blob = await result.download(format);
    } catch (error) {
      this.onError?.(error);
      return;
    }
    saveBlob(blob, `${result.name}.${format}`);
  }
}
