// Errors in plain words: Chinese first, English after, the server's own message last.

const TEXTS = {
  connect_refused: "连接被拒绝：API 密钥缺失或错误，请在“设置”中填写。Connection refused: the API key is missing or wrong (see Settings).",
  unauthorized: "API 密钥缺失或错误，请在“设置”中填写。The API key is missing or wrong (see Settings).",
  network: "无法连接到识别服务，请检查网络或服务地址。Cannot reach the service: check the network or the service URL.",
  not_ready: "服务正在加载模型，请稍后再试。The service is still loading its models; try again shortly.",
  busy: "服务繁忙，同时录音数已达上限，请稍后再试。The service is busy (too many recordings); try again later.",
  session_expired: "连接中断太久，服务器已结束这段录音。Disconnected for too long: the server finished the recording without you.",
  invalid_resume_token: "无法继续这段录音（服务器可能已重启）。The recording cannot be resumed (the server may have restarted).",
  recording_failed: "录音处理失败，音频已保存在服务器上。Processing failed; the audio is kept on the server.",
  storage_error: "服务器无法保存音频。The server could not store the audio.",
  session_too_long: "录音已达最长时长，已自动停止。The recording reached its maximum length and was stopped.",
  buffer_full: "网络中断太久，录音已停止。The connection was down for too long; recording stopped.",
  bad_options: "录音参数有误。Invalid recording options.",
  upload_too_large: "文件太大。The file is too large.",
  body_too_large: "转写内容太多，无法生成文本或字幕文件。The transcript is too large to make into a text or subtitle file.",
  audio_too_long: "音频太长。The audio is too long.",
  unsupported_media: "无法识别的文件格式或文件已损坏。Not an audio file we can read, or the file is damaged.",
  empty_file: "文件是空的。The file is empty.",
  microphone_denied: "没有麦克风权限，请在浏览器中允许使用麦克风。Microphone access was denied; allow it in the browser.",
  microphone_missing: "找不到麦克风。No microphone was found.",
  insecure_context: "浏览器只在 HTTPS 或 localhost 页面上允许录音。Browsers allow recording only on HTTPS or localhost pages.",
  microphone_error: "无法打开麦克风。Cannot open the microphone.",
  internal_error: "服务器内部错误。Internal server error.",
};

/** A sentence for people from an error {code, message} (server codes, plus the page's own). */
export function describeError({ code, message }) {
  const text = TEXTS[code];
  if (!text) return message ? `${message} (${code})` : `出错了 Something went wrong (${code})`;
  return message && code !== "connect_refused" ? `${text} [${message}]` : text;
}

/** The error code for a getUserMedia / AudioContext failure. */
export function microphoneErrorCode(error) {
  if (!window.isSecureContext) return "insecure_context";
  if (error && error.name === "NotAllowedError") return "microphone_denied";
  if (error && (error.name === "NotFoundError" || error.name === "OverconstrainedError")) return "microphone_missing";
  return "microphone_error";
}
