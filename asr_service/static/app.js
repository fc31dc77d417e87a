// The recorder page: tabs, settings, live recording and file upload, wired to the shared result view.

import { endpoints, loadSettings, saveSettings } from "./config.js";
import { LiveRecording } from "./live-client.js";
import { describeError, microphoneErrorCode } from "./messages.js";
import { openMicrophone } from "./microphone.js";
import { ResultView } from "./result-view.js";
import { fetchSubtitles, transcribeFile } from "./upload.js";

const $ = (id) => document.getElementById(id);
const BYTES_PER_MS = 32;

let settings = loadSettings();
const view = new ResultView();
// What the page did, for the test hook at the end: the live client, the audio produced, the events seen.
const recorder = {
  live: null, microphone: null, sampleRate: null, producedBytes: 0, lastResult: null,
  speechSeen: false, progress: [], uploadProgress: [],
};

// The live text: the final sentences as they come (an update replaces its sentence), then the partial.
function showLiveSentences(sentences) {
  const spans = sentences.filter(Boolean).map((sentence) => {
    const span = document.createElement("span");
    span.className = "sentence";
    span.dataset.index = String(sentence.index);
    span.dataset.revision = String(sentence.revision);
    span.textContent = sentence.text;
    return span;
  });
  $("live-sentences").replaceChildren(...spans);
}

function showError(error) {
  $("error").textContent = describeError(error);
  $("error").hidden = false;
}

view.onError = showError; // a download the server refused

function clearError() {
  $("error").hidden = true;
}

function setBadge(id, text, kind = "") {
  const badge = $(id);
  badge.textContent = text;
  badge.className = `badge ${kind}`;
}

// ----- settings and tabs -----

function fillSettings() {
  $("server-url").value = settings.serverUrl;
  $("socket-path").value = settings.socketPath;
  $("api-key").value = settings.apiKey;
  $("language").value = settings.language;
}

$("save-settings").onclick = () => {
  settings = {
    serverUrl: $("server-url").value.trim(),
    socketPath: $("socket-path").value.trim(),
    apiKey: $("api-key").value.trim(),
    language: $("language").value,
  };
  saveSettings(settings);
  $("settings-saved").hidden = false;
};

for (const tab of document.querySelectorAll(".tabs button")) {
  tab.onclick = () => {
    for (const other of document.querySelectorAll(".tabs button")) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      $(other.dataset.panel).hidden = !selected;
    }
  };
}

// ----- live recording -----

const CONNECTION_BADGES = {
  connecting: ["连接中 connecting…", "warn"],
  online: ["已连接 online", "on"],
  reconnecting: ["重新连接中 reconnecting…", "warn"],
  offline: ["未连接 offline", ""],
};

function showProducedAudio() {
  $("elapsed").textContent = `${(recorder.producedBytes / BYTES_PER_MS / 1000).toFixed(1)} s`;
}

// The backup belongs to whoever holds the recording's resume token: the server asks for it.
async function fetchBackupAudio(urls, id, resumeToken) {
  const headers = { ...urls.headers, "X-Resume-Token": resumeToken };
  const response = await fetch(urls.api(`api/asr/backup-audio/${encodeURIComponent(id)}`), { headers });
  if (!response.ok) throw { code: "backup_audio", message: `HTTP ${response.status}` };
  return response.blob();
}

// TXT, SRT and WebVTT of a recording come from the server, made from its stored final result.
async function fetchRecordingText(urls, id, resumeToken, format) {
  const headers = { ...urls.headers, "X-Resume-Token": resumeToken };
  const path = `api/asr/sessions/${encodeURIComponent(id)}/result?format=${format}`;
  const response = await fetch(urls.api(path), { headers });
  if (!response.ok) throw { code: "download", message: `HTTP ${response.status}` };
  return response.blob();
}

// TXT, SRT and WebVTT of an upload come from the server too, made from the result's sentences.
function fetchUploadText(urls, sentences, filename, format) {
  // only what the formats use: language, emotion and events would only make the body larger
  const timestamps = sentences.map(({ text, start_ms, end_ms, words }) => ({ text, start_ms, end_ms, words }));
  return fetchSubtitles(urls.api("api/asr/subtitles"), timestamps, format, { headers: urls.headers, filename });
}

async function showRecordingResult(urls, result, resumeToken) {
  recorder.lastResult = result;
  $("record-progress").hidden = true;
  let audio = null;
  try {
    audio = await fetchBackupAudio(urls, result.backup_audio_id, resumeToken);
  } catch (error) {
    showError(error);
  }
  view.show({
    text: result.sensevoice,
    sentences: result.timestamps,
    durationMs: result.duration_ms,
    name: `recording-${result.session_id}`,
    audio,
    wav: audio,
    download: (format) => fetchRecordingText(urls, result.session_id, resumeToken, format),
  });
  $("start").disabled = false;
}

function finishLocally() {
  recorder.microphone?.stop().catch(() => {});
  recorder.microphone = null;
  $("start").disabled = false;
  $("stop").disabled = true;
  $("record-progress").hidden = true;
}

async function startRecording() {
  clearError();
  view.hide();
  $("start").disabled = true;
  $("live-sentences").replaceChildren();
  $("live-partial").textContent = "";
  Object.assign(recorder, { producedBytes: 0, lastResult: null, speechSeen: false, progress: [] });
  showProducedAudio();
  const urls = endpoints(settings);
  const live = new LiveRecording({
    origin: urls.origin,
    path: urls.socketPath,
    apiKey: settings.apiKey,
    options: { language: settings.language },
    on: {
      connection: (state) => {
        if (state === "online") clearError(); // e.g. "cannot reach the service" before it came up
        setBadge("connection", ...CONNECTION_BADGES[state]);
      },
      sentences: showLiveSentences,
      partial: (text) => { $("live-partial").textContent = text; }, // replace: the tail gets re-punctuated
      vad: (active) => {
        recorder.speechSeen ||= active;
        setBadge("vad", active ? "说话中 speech" : "静音 silence", active ? "on" : "");
      },
      stopped: () => { $("record-progress").hidden = false; },
      progress: (p) => {
        recorder.progress.push(p);
        $("record-progress").hidden = false;
        $("processing-progress").value = p.progress;
      },
      final: (result) => {
        setBadge("connection", ...CONNECTION_BADGES.offline);
        showRecordingResult(urls, result, live.token);
      },
      error: (error, fatal) => {
        showError(error);
        if (fatal) {
          setBadge("connection", ...CONNECTION_BADGES.offline);
          finishLocally();
        }
      },
    },
  });
  recorder.live = live;
  live.start();
  try {
    const microphone = await openMicrophone((frame) => {
      recorder.producedBytes += frame.byteLength;
      showProducedAudio();
      live.pushAudio(frame);
    });
    recorder.sampleRate = microphone.sampleRate;
    if (recorder.live === live && live.unfinished) {
      recorder.microphone = microphone;
      $("stop").disabled = false;
    } else {
      await microphone.stop(); // the connection failed while the microphone was opening
    }
  } catch (error) {
    live.close();
    finishLocally();
    showError({ code: microphoneErrorCode(error), message: error?.message ?? String(error) });
  }
}

async function stopRecording() {
  $("stop").disabled = true;
  const microphone = recorder.microphone;
  recorder.microphone = null;
  await microphone?.stop(); // the last partial frame is pushed before stop_recording goes out
  setBadge("vad", "静音 silence");
  recorder.live?.stop();
}

$("start").onclick = startRecording;
$("stop").onclick = stopRecording;

// ----- file upload -----

$("upload-form").onsubmit = async (event) => {
  event.preventDefault();
  const file = $("upload-file").files[0];
  if (!file) return;
  clearError();
  view.hide();
  const urls = endpoints(settings);
  $("upload-start").disabled = true;
  $("upload-status").hidden = false;
  $("upload-stage").textContent = "上传中 Uploading…";
  $("upload-progress").value = 0;
  recorder.uploadProgress = [];
  try {
    const data = await transcribeFile(urls.api("api/asr/transcribe"), file, {
      headers: urls.headers,
      language: settings.language,
      onProgress: (fraction) => {
        recorder.uploadProgress.push(fraction);
        $("upload-progress").value = fraction;
      },
      onSent: () => {
        $("upload-progress").value = 1;
        $("upload-stage").textContent = "识别中 Transcribing…";
      },
    });
    recorder.lastResult = data;
    const sentences = data.timestamps ?? [];
    view.show({
      text: data.text,
      sentences,
      durationMs: data.duration_ms,
      name: file.name.replace(/\.[^.]*$/, "") || "upload",
      audio: file,
      wav: null, // the original file is the user's own; only recordings are offered as WAV
      // no stored result to ask for: the server formats the sentences the page already has
      download: (format) => fetchUploadText(urls, sentences, file.name, format),
    });
  } catch (error) {
    showError(error);
  } finally {
    $("upload-start").disabled = false;
    $("upload-status").hidden = true;
  }
};

fillSettings();

// Test and debugging hook (used by tests/test_recorder_page.py).
window.__recorder = {
  dropConnection: () => recorder.live?.dropConnection(),
  stats: () => ({
    phase: recorder.live?.phase ?? "idle",
    producedBytes: recorder.producedBytes,
    sentBytes: recorder.live?.highestSent ?? 0,
    resentBytes: recorder.live?.stats.resentBytes ?? 0,
    resumes: recorder.live?.stats.resumes ?? [],
    resumeToken: recorder.live?.token ?? null,
    liveSentences: (recorder.live?.sentences ?? []).filter(Boolean),
    partialText: $("live-partial").textContent,
    contextSampleRate: recorder.sampleRate,
    speechSeen: recorder.speechSeen,
    progress: recorder.progress,
    uploadProgress: recorder.uploadProgress,
    lastResult: recorder.lastResult,
  }),
};
