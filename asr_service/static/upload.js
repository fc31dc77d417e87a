// File upload to POST api/asr/transcribe, with upload progress (XMLHttpRequest: fetch has none), and the
// server's text and subtitles of its result (POST api/asr/subtitles: an upload has no stored result).

/** Resolves to the response's `data`; rejects with {code, message}. onProgress(fraction) while sending. */
export function transcribeFile(url, file, { headers = {}, language = "auto", onProgress = () => {}, onSent = () => {} }) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("file", file, file.name);
    form.append("language", language);
    form.append("generate_timestamps", "true");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.upload.onload = () => onSent();
    xhr.onload = () => {
      const body = xhr.response;
      if (xhr.status === 200 && body && body.success) resolve(body.data);
      else if (body && body.code) reject({ code: body.code, message: body.error });
      else reject({ code: "http_error", message: `HTTP ${xhr.status}` });
    };
    xhr.onerror = () => reject({ code: "network", message: "" });
    xhr.send(form);
  });
}

/**
 * The server's TXT, SRT or WebVTT (`format`) of sentences the page already has, as a Blob: POST
 * api/asr/subtitles with the result's `timestamps` and the file's name. Rejects with {code, message}.
 */
export async function fetchSubtitles(url, timestamps, format, { headers = {}, filename = "" } = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: { ...headers, "Content-Type": "application/json" },
    body: JSON.stringify({ timestamps, format, filename }),
  });
  if (response.ok) return response.blob();
  const body = await response.json().catch(() => null);
  throw body && body.code ? { code: body.code, message: body.error } : { code: "download", message: `HTTP ${response.status}` };
}
