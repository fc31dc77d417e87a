// Where the service is and how to reach it: settings from localStorage, overridable in the URL.

const STORAGE_KEY = "xingji-asr-recorder";

/**
 * The page's settings. `?server=` and `?socketio_path=` override the stored ones, so a page hosted
 * elsewhere can be linked to a service; the API key is never read from the URL (it would leak into logs).
 */
export function loadSettings() {
  let stored = {};
  try {
    stored = JSON.parse(localStorage.getItem(STORAGE_KEY) || "{}");
  } catch {
    stored = {};
  }
  const query = new URLSearchParams(location.search);
  return {
    serverUrl: query.get("server") ?? stored.serverUrl ?? "",
    socketPath: query.get("socketio_path") ?? stored.socketPath ?? "",
    apiKey: stored.apiKey ?? "",
    language: stored.language ?? "auto",
  };
}

export function saveSettings(settings) {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(settings));
}

/**
 * URLs derived from the settings. Without a service URL the service is the one that served this page,
 * under whatever path prefix the page has (behind a proxy, "/asr/" gives "/asr/socket.io").
 */
export function endpoints(settings) {
  const base = new URL(settings.serverUrl || ".", document.baseURI);
  if (!base.pathname.endsWith("/")) base.pathname += "/";
  return {
    origin: base.origin,
    socketPath: settings.socketPath || `${base.pathname}socket.io`,
    api: (path) => new URL(path, base).href, // path without a leading "/": relative to the service
    headers: settings.apiKey ? { "X-API-Key": settings.apiKey } : {},
  };
}
