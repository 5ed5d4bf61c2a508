// The wasi:http tests' handler (tests/it/wasi_http.rs): the global fetch(),
// which componentize-js compiles to standard wasi:http (built with http kept:
// scripts/build-js-examples.sh). The input's `requests` lists what to fetch,
// in order: `url`, and optionally `method`, `body` (a string), `headers` and
// `redirect` (fetch's option: 'manual' unless given).
// The output has one entry per request: `status`, `location` and `body` (the
// response's text), or `error` (what fetch threw, with its cause, if any).

function describe(error) {
  let text = String(error);
  if (error && error.cause !== undefined) text += ` (cause: ${String(error.cause)})`;
  return text;
}

export async function handler(event) {
  const results = [];
  for (const request of event.requests ?? []) {
    try {
      const response = await fetch(request.url, {
        method: request.method ?? 'GET',
        body: request.body,
        headers: request.headers,
        redirect: request.redirect ?? 'manual',
      });
      const body = await response.text();
      results.push({ status: response.status, location: response.headers.get('location'), body });
    } catch (error) {
      results.push({ error: describe(error) });
    }
  }
  return results;
}
