// Outgoing HTTP requests through the resource's http grant: only to its
// allowed URL prefixes, under its per-request timeout, response cap and call
// limit, no redirects followed. `http.fetch(url, { method, headers, body,
// json })` returns a Response; a request refused or failed throws HttpError
// (the ASL error `HttpFailed`). Outside a component every call throws.

import { inComponent, http as imported } from './capabilities.js';

/** The ASL error an HttpError fails the task with. */
export const HTTP_FAILED = 'HttpFailed';

export class HttpError extends Error {
  constructor(message) {
    super(message);
    this.error = HTTP_FAILED;
    this.name = 'HttpError';
  }
}

export class Response {
  constructor(status, headers, body) {
    this.status = status;
    /** [name, value] pairs, as received. */
    this.headers = headers;
    /** The body's bytes (a Uint8Array). */
    this.body = body;
  }

  get ok() {
    return this.status >= 200 && this.status < 300;
  }

  /** The first value of header `name` (any case), or undefined. */
  header(name) {
    const lower = name.toLowerCase();
    return this.headers.find(([n]) => n.toLowerCase() === lower)?.[1];
  }

  text() {
    return new TextDecoder().decode(this.body);
  }

  json() {
    try {
      return JSON.parse(this.text());
    } catch (e) {
      throw new HttpError(`the response body is not JSON: ${e.message}`);
    }
  }
}

function headerPairs(headers) {
  if (!headers) return [];
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  return pairs.map(([name, value]) => [String(name), String(value)]);
}

export const http = {
  /**
   * Sends a request and waits for the whole response. `body` is a string or
   * bytes; `json` a value sent as JSON (with content-type application/json).
   */
  fetch(url, { method = 'GET', headers, body, json } = {}) {
    if (!imported) {
      throw new HttpError(
        inComponent
          ? "this component was built without the http capability (build it with 'log,http')"
          : 'http.fetch is only available inside a component',
      );
    }
    const pairs = headerPairs(headers);
    let bytes = new Uint8Array();
    if (json !== undefined) {
      bytes = new TextEncoder().encode(JSON.stringify(json));
      if (!pairs.some(([n]) => n.toLowerCase() === 'content-type')) pairs.push(['content-type', 'application/json']);
    } else if (typeof body === 'string') {
      bytes = new TextEncoder().encode(body);
    } else if (body !== undefined) {
      bytes = new Uint8Array(body);
    }
    let resp;
    try {
      resp = imported.fetch({ method: String(method).toUpperCase(), url: String(url), headers: pairs, body: bytes });
    } catch (e) {
      throw new HttpError(typeof e?.payload === 'string' ? e.payload : String(e?.message ?? e));
    }
    return new Response(resp.status, resp.headers, resp.body);
  },
};
