// The node's HTTP API as the dashboard uses it: JSON reads with the login token, the login itself,
// and Server-Sent Event streams read through fetch (EventSource cannot send an Authorization
// header). Every call is relative to the page, so the dashboard talks only to the node serving it.

const tokenKey = 'raftlock.token';

/** Thrown for any answer that is not 2xx; `status` and `code` say what the node said. */
export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function token() {
  return sessionStorage.getItem(tokenKey);
}

export function forgetToken() {
  sessionStorage.removeItem(tokenKey);
}

/** @returns {Record<string, string>} */
function headers() {
  const t = token();
  return t === null ? {} : { authorization: `Bearer ${t}` };
}

/** @param {Response} response */
async function failure(response) {
  let code = `HTTP_${response.status}`;
  let message = response.statusText;
  try {
    const body = await response.json();
    if (typeof body.code === 'string') code = body.code;
    if (typeof body.message === 'string') message = body.message;
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(response.status, code, message);
}

/** GET a JSON route. @param {string} path */
export async function getJson(path) {
  const response = await fetch(path, { headers: headers(), cache: 'no-store' });
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** GET a text route (the metrics). @param {string} path */
export async function getText(path) {
  const response = await fetch(path, { headers: headers(), cache: 'no-store' });
  if (!response.ok) throw await failure(response);
  return response.text();
}

/** @param {'POST' | 'DELETE'} method @param {string} path @param {unknown} [body] */
export async function send(method, path, body) {
  const init = { method, headers: { ...headers() }, cache: /** @type {const} */ ('no-store') };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  const text = await response.text();
  return text === '' ? null : JSON.parse(text);
}

/** Logs in and keeps the token for this tab. @param {string} user @param {string} password */
export async function login(user, password) {
  const answer = await send('POST', 'v1/auth/login', { user, password });
  if (typeof answer?.token !== 'string') throw new ApiError(500, 'BAD_ANSWER', 'the login answer has no token');
  sessionStorage.setItem(tokenKey, answer.token);
}

/**
 * Follows an SSE stream until `signal` aborts, reconnecting after a drop with `Last-Event-ID` so no
 * event is lost. `onEvent(type, data, id)` gets each event's parsed JSON; `onState` says whether
 * the stream is open. A 401/403 is not retried: `onRefused(error)` is told instead.
 * @param {string} path
 * @param {{ onEvent: (type: string, data: unknown, id: string) => void, onState: (open: boolean, why: string) => void, onRefused: (e: ApiError) => void }} handlers
 * @param {AbortSignal} signal
 */
export async function followEvents(path, handlers, signal) {
  let lastId = '';
  let delayMs = 500;
  while (!signal.aborted) {
    try {
      const h = headers();
      if (lastId !== '') h['last-event-id'] = lastId;
      const response = await fetch(path, { headers: { ...h, accept: 'text/event-stream' }, signal, cache: 'no-store' });
      if (response.status === 401 || response.status === 403) {
        handlers.onRefused(await failure(response));
        return;
      }
      if (!response.ok || response.body === null) throw await failure(response);
      handlers.onState(true, '');
      delayMs = 500;
      for await (const event of sseEvents(response.body)) {
        if (event.id !== '') lastId = event.id;
        let data = null;
        try {
          data = event.data === '' ? null : JSON.parse(event.data);
        } catch {
          data = event.data;
        }
        handlers.onEvent(event.type, data, event.id);
      }
      handlers.onState(false, 'stream ended');
    } catch (error) {
      if (signal.aborted) return;
      handlers.onState(false, error instanceof Error ? error.message : String(error));
    }
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    delayMs = Math.min(delayMs * 2, 5000);
  }
}

/**
 * Splits an SSE byte stream into events (the text/event-stream format: `field: value` lines, a
 * blank line ends an event, lines starting with `:` are comments).
 * @param {ReadableStream<Uint8Array>} body
 * @returns {AsyncGenerator<{ type: string, data: string, id: string }>}
 */
export async function* sseEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let type = '';
  let data = [];
  let id = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + (buffer.startsWith('\r\n', end) ? 2 : 1));
      if (line === '') {
        if (data.length > 0) yield { type: type === '' ? 'message' : type, data: data.join('\n'), id };
        type = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') type = text;
      else if (field === 'data') data.push(text);
      else if (field === 'id') id = text;
    }
  }
}
