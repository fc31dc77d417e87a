// One live recording over Socket.IO (docs/websocket.md): start, stream, stop, and resume after a
// dropped connection by resending exactly the audio the server did not receive.
// Needs the Socket.IO client's global `io` (static/vendor/socket.io.min.js).

const BYTES_PER_MS = 32;                        // 16 kHz x 2 bytes, mono
const AHEAD_MS = 10_000;                        // send at most this far beyond the last current_time_ms
const MAX_UNACKED_BYTES = 180_000 * BYTES_PER_MS; // 3 min: longer than the server's default grace period

export class LiveRecording {
  /**
   * @param {{origin: string, path: string, apiKey?: string, options?: object, on?: object}} cfg
   *   on: { connection(state), sentences(list), partial(text), vad(active), stopped(payload),
   *         progress(payload), final(result), error({code, message}, fatal) }
   *   sentences: the final sentences so far, [{index, revision, text, start_ms, end_ms}] in order
   *   (sentence_final, sentence_update, resume_result.sentences); partial: transcription.partial_text,
   *   the live text of the audio no sentence covers yet, shown after them. The page does not ask the
   *   server for full_text (docs/websocket.md §4.3).
   */
  constructor({ origin, path, apiKey = "", options = {}, on = {} }) {
    this.options = options;
    this.on = on;
    this.phase = "idle";  // idle | starting | recording | stopping | done | failed
    this.live = false;    // the current connection is bound to our recording: frames may go out
    this.startSent = false;
    this.stopWanted = false;
    this.token = null;    // resume token of our recording
    this.sessionId = null;
    this.chunks = [];     // [{offset, bytes: Uint8Array}]: audio the server has not confirmed yet
    this.total = 0;       // bytes produced so far
    this.sent = 0;        // next byte to send on the current connection
    this.acked = 0;       // bytes the server has confirmed
    this.heardMs = 0;     // the server's progress: the last current_time_ms (or received_ms on resume)
    this.lastSeq = 0;
    this.sentences = [];  // by index: the latest revision of each final sentence
    this.highestSent = 0;
    this.framesToLose = 0; // see dropConnection()
    this.everConnected = false;
    this.stats = { resentBytes: 0, resumes: [] };
    this.socket = globalThis.io(origin, {
      path,
      transports: ["websocket"], // long-polling silently drops big POSTs (docs/websocket.md §1)
      auth: apiKey ? { api_key: apiKey } : {},
      autoConnect: false,
    });
    this.#listen();
  }

  /** Connect and start the recording; audio may be pushed right away (it is buffered). */
  start() {
    this.phase = "starting";
    this.#emitState("connecting");
    this.socket.connect();
  }

  /** One frame of PCM s16le 16 kHz mono. */
  pushAudio(buffer) {
    if (this.phase !== "starting" && this.phase !== "recording") return;
    if (this.total + buffer.byteLength - this.acked > MAX_UNACKED_BYTES) {
      this.#fail({ code: "buffer_full", message: "the server has not confirmed the last 3 minutes of audio" });
      return;
    }
    this.chunks.push({ offset: this.total, bytes: new Uint8Array(buffer) });
    this.total += buffer.byteLength;
    this.#flush();
  }

  /** No more audio: stop_recording goes out once everything before it has been sent. */
  stop() {
    if (this.phase !== "starting" && this.phase !== "recording") return;
    this.stopWanted = true;
    this.#flush();
  }

  /** Leave: close the connection (an unfinished recording is finalised by the server later). */
  close() {
    this.live = false;
    this.socket.disconnect();
  }

  /**
   * Test hook, a dying network: the next `frames` frames count as sent but never leave, then the
   * transport closes. The client must reconnect, resume and resend them from `received_bytes`.
   */
  dropConnection(frames = 5) {
    this.framesToLose = frames;
    if (frames <= 0) this.#closeTransport();
  }

  #closeTransport() {
    this.framesToLose = 0;
    this.live = false;
    this.socket.io.engine.close();
  }

  get unfinished() {
    return this.phase === "starting" || this.phase === "recording" || this.phase === "stopping";
  }

  #listen() {
    const s = this.socket;
    s.on("connected", (p) => this.#onConnected(p));
    s.on("recording_started", (p) => this.#onStarted(p));
    s.on("transcription", (p) => this.#onTranscription(p));
    s.on("sentence_final", (p) => this.#onSentence(p));
    s.on("sentence_update", (p) => this.#onSentence(p));
    s.on("resume_result", (p) => this.#onResumed(p));
    s.on("recording_stopped", (p) => this.on.stopped?.(p));
    s.on("processing_progress", (p) => this.on.progress?.(p));
    s.on("final_result", (p) => this.#onFinal(p));
    s.on("error", (e) => this.#onServerError(e));
    s.on("disconnect", (reason) => {
      this.live = false; // socket.io would queue emits and replay them before resume_recording
      if (!this.unfinished) return;
      this.#emitState("reconnecting");
      if (reason === "io server disconnect") s.connect(); // the server closed it: not retried by itself
    });
    s.on("connect_error", (err) => {
      if (!s.active) {
        this.#fail({ code: "connect_refused", message: err.message }); // e.g. a wrong API key
      } else if (this.unfinished) {
        this.#emitState("reconnecting"); // socket.io-client retries; the microphone keeps buffering
        if (!this.everConnected) this.on.error?.({ code: "network", message: err.message }, false);
      }
    });
  }

  #emitState(state) {
    this.on.connection?.(state);
  }

  #onConnected(p) {
    this.everConnected = true;
    this.#emitState("online");
    if (this.token && this.unfinished) {
      // Every new connection, whether or not the server noticed the old one drop.
      this.socket.emit("resume_recording", { resume_token: this.token });
    } else if (this.phase === "starting" && !this.startSent) {
      // The first recording on a connection uses the session announced here.
      this.token = p.resume_token;
      this.sessionId = p.session_id;
      this.startSent = true;
      this.socket.emit("start_recording", this.options);
    }
  }

  #onStarted(p) {
    Object.assign(this, { token: p.resume_token, sessionId: p.session_id, phase: "recording", live: true });
    this.#flush();
  }

  #onTranscription(p) {
    if (p.seq <= this.lastSeq) return; // one stale event may follow a resume
    this.lastSeq = p.seq;
    this.heardMs = Math.max(this.heardMs, p.current_time_ms);
    // The first pass only hears audio the server has stored: everything up to here is safe.
    this.#acknowledge(p.current_time_ms * BYTES_PER_MS);
    this.on.partial?.(p.partial_text);
    this.on.vad?.(p.is_speech_active);
    this.#flush(); // the send window may have opened
  }

  #onSentence(p) {
    const held = this.sentences[p.index];
    if (held && held.revision >= p.revision) return; // never older than what is shown
    this.sentences[p.index] = p;
    this.on.sentences?.(this.sentences);
  }

  #onResumed(p) {
    this.stats.resumes.push({
      state: p.state, receivedBytes: p.received_bytes, sentBytes: this.highestSent, producedBytes: this.total,
    });
    this.lastSeq = Math.max(this.lastSeq, p.last_seq);
    // the snapshot replaces the list; later sentences come as events, none of these again
    this.sentences = [...p.sentences];
    this.on.sentences?.(this.sentences);
    this.on.partial?.(""); // the next transcription brings the partial text again
    if (p.state === "recording") {
      this.#acknowledge(p.received_bytes);
      this.sent = p.received_bytes; // what was in flight at the drop is lost: resend from here
      this.heardMs = Math.max(this.heardMs, p.received_ms); // nothing of ours is in transit any more
      Object.assign(this, { phase: "recording", live: true });
      this.#flush(); // ... then stop_recording again if it was wanted
    } else if (p.state === "finalizing" || p.state === "done") {
      Object.assign(this, { phase: "stopping", live: false }); // final_result comes on this connection
    }
  }

  #onFinal(p) {
    if (p.session_id !== this.sessionId) return;
    Object.assign(this, { phase: "done", live: false, chunks: [] });
    this.on.final?.(p);
    this.socket.disconnect();
  }

  #onServerError(e) {
    switch (e.code) {
      case "session_too_long": // the server stopped the recording; final_result follows
        Object.assign(this, { phase: "stopping", live: false });
        this.on.error?.(e, false);
        return;
      case "not_recording":    // frames still in flight after a server-side stop
        return;
      case "invalid_resume_token":
        if (this.phase === "starting") { // the drop came before the start reached the server
          this.token = null;
          this.startSent = false;
          this.socket.disconnect().connect();
          return;
        }
        this.#fail(e);
        return;
      case "not_ready":
      case "busy":
      case "bad_options":
      case "already_recording":
      case "session_expired":
      case "recording_failed":
      case "storage_error":
        if (this.unfinished) this.#fail(e);
        else this.on.error?.(e, false);
        return;
      default:                 // internal_error, frame_too_large, invalid_audio, bad_request
        this.on.error?.(e, false);
    }
  }

  #fail(e) {
    const wasUnfinished = this.unfinished;
    Object.assign(this, { phase: "failed", live: false, chunks: [] });
    if (wasUnfinished) this.socket.disconnect();
    this.on.error?.(e, true);
  }

  #acknowledge(bytes) {
    this.acked = Math.max(this.acked, Math.min(bytes, this.total));
    while (this.chunks.length && this.chunks[0].offset + this.chunks[0].bytes.byteLength <= this.acked) {
      this.chunks.shift();
    }
  }

  /** Send what the server lacks, paced; then stop_recording if wanted. Only on a bound connection. */
  #flush() {
    if (!this.live || !this.socket.connected || this.phase !== "recording") return;
    for (const { offset, bytes } of this.chunks) {
      const end = offset + bytes.byteLength;
      if (end <= this.sent) continue;
      if (this.sent / BYTES_PER_MS - this.heardMs > AHEAD_MS) return; // the next transcription resumes
      const part = bytes.subarray(Math.max(0, this.sent - offset)); // a frame, or its tail after a resume
      const lose = this.framesToLose > 0;
      if (lose) this.framesToLose -= 1; // dropConnection(): this frame vanishes on the way
      else this.socket.emit("audio_data", part.slice().buffer); // exactly these bytes, not the view's buffer
      this.stats.resentBytes += Math.max(0, Math.min(end, this.highestSent) - this.sent);
      this.sent = end;
      this.highestSent = Math.max(this.highestSent, end);
      if (lose && this.framesToLose === 0) this.#closeTransport();
      if (!this.live) return;
    }
    if (this.stopWanted && this.sent === this.total) {
      this.socket.emit("stop_recording");
      this.phase = "stopping";
    }
  }
}
