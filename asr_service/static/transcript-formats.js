// The transcript as plain text, SubRip (SRT) and WebVTT, built from sentence timestamps.

/** "HH:MM:SS<sep>mmm" for a time in milliseconds (SRT uses ",", WebVTT "."). */
export function clock(ms, separator) {
  const total = Math.max(0, Math.round(ms));
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor(total / 60_000) % 60;
  const seconds = Math.floor(total / 1000) % 60;
  return `${pad(hours)}:${pad(minutes)}:${pad(seconds)}${separator}${pad(total % 1000, 3)}`;
}

// A blank line ends a cue and "-->" starts a timing line, so neither may appear inside cue text.
const cueText = (text) => text.replace(/\s*\n\s*/g, " ").replace(/-->/g, "->").trim();

/** One sentence per line; the whole text when there are no sentences. */
export function toTxt(sentences, text) {
  const lines = sentences.length ? sentences.map((s) => s.text.trim()) : [text.trim()];
  return `${lines.join("\n")}\n`;
}

/** SubRip: numbered cues, "00:00:01,234 --> 00:00:02,345", the text, a blank line. */
export function toSrt(sentences) {
  return sentences
    .map((s, i) => `${i + 1}\n${clock(s.start_ms, ",")} --> ${clock(s.end_ms, ",")}\n${cueText(s.text)}\n`)
    .join("\n");
}

/** WebVTT: the "WEBVTT" header, then cues "00:00:01.234 --> 00:00:02.345" and their text. */
export function toVtt(sentences) {
  const cues = sentences.map((s) => `${clock(s.start_ms, ".")} --> ${clock(s.end_ms, ".")}\n${cueText(s.text)}\n`);
  return `WEBVTT\n\n${cues.join("\n")}`;
}
