// The web console of `stepwasm serve`: a single page, hash-routed, that reads
// everything through the same AWS JSON 1.0 API as the SDKs do.
//   #/            the state machines
//   #/sm/<arn>    one state machine: graph, definition, executions
//   #/exec/<arn>  one execution: summary, graph coloured by its history, events
// Every piece of text from the server is user data: it goes into the page
// through esc() or textContent, never as markup. The one exception is the
// graph, an SVG the server draws (escaping the names itself); it is parsed as
// XML and imported as nodes, without scripts.
'use strict';

const SECRET_KEY = 'stepwasm.apiSecret';
// What serve answers (403) when a request lacks the API secret or has a wrong one.
const AUTH_CODES = new Set(['UnrecognizedClientException', 'InvalidSignatureException', 'MissingAuthenticationToken']);
const STATUSES = ['succeeded', 'caught', 'failed', 'aborted', 'in-progress', 'not-run'];
const REFRESH_MS = 3000;

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}
class AuthNeeded extends Error {}

function esc(value) {
  const map = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  return String(value ?? '').replace(/[&<>"']/g, (c) => map[c]);
}

function authHeaders() {
  const secret = sessionStorage.getItem(SECRET_KEY);
  return secret ? { Authorization: 'Bearer ' + secret } : {};
}

// The error a non-2xx answer carries: {"__type": "<Code>", "message": "..."}.
function failure(what, res, text) {
  let body = null;
  try {
    body = JSON.parse(text);
  } catch (_) {
    // Not JSON: the text itself is the message.
  }
  const type = body && typeof body.__type === 'string' ? body.__type : '';
  // AWS may qualify the code: "com.amazonaws.swf.base.model#ValidationException".
  const code = type.split('#').pop();
  const message = (body && (body.message || body.Message)) || text.slice(0, 500) || res.statusText;
  if (res.status === 403 && (AUTH_CODES.has(code) || !code)) return new AuthNeeded(message);
  return new ApiError(res.status, code || `HTTP ${res.status}`, `${what}: ${code ? code + ': ' : ''}${message}`);
}

async function api(action, params) {
  let res;
  let text;
  try {
    res = await fetch('/', {
      method: 'POST',
      headers: {
        'X-Amz-Target': 'AWSStepFunctions.' + action,
        'Content-Type': 'application/x-amz-json-1.0',
        ...authHeaders(),
      },
      body: JSON.stringify(params || {}),
    });
    text = await res.text();
  } catch (e) {
    throw new ApiError(0, 'NetworkError', `${action}: the server did not answer (${e.message})`);
  }
  if (!res.ok) throw failure(action, res, text);
  let body;
  try {
    body = JSON.parse(text);
  } catch (_) {
    throw new ApiError(res.status, 'BadResponse', `${action}: the answer is not JSON`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError(res.status, 'BadResponse', `${action}: the answer is not a JSON object`);
  }
  return body;
}

// Every page of a listing, following nextToken (at most `maxPages`).
async function all(action, params, key, maxPages) {
  const items = [];
  const seen = new Set();
  let token = null;
  for (let page = 0; page < maxPages; page++) {
    const body = await api(action, token ? { ...params, nextToken: token } : params);
    const list = body[key] ?? [];
    if (!Array.isArray(list)) throw new ApiError(200, 'BadResponse', `${action}: "${key}" is not a list`);
    // A null or a number in a listing would break the page: left out.
    items.push(...list.filter((item) => item && typeof item === 'object'));
    token = body.nextToken;
    if (!token) return { items, complete: true };
    // A token seen before would page forever.
    if (seen.has(token)) break;
    seen.add(token);
  }
  return { items, complete: false };
}

// The graph, GET /graph.svg?<query>, as an <svg> node of this document.
async function fetchGraph(query) {
  let res;
  let text;
  try {
    res = await fetch('/graph.svg?' + query, { headers: authHeaders() });
    text = await res.text();
  } catch (e) {
    throw new ApiError(0, 'NetworkError', `graph: the server did not answer (${e.message})`);
  }
  if (!res.ok) throw failure('graph', res, text);
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const svg = doc.documentElement;
  if (!svg || svg.localName !== 'svg' || doc.getElementsByTagName('parsererror').length) {
    throw new ApiError(res.status, 'BadResponse', 'graph: the answer is not an SVG document');
  }
  svg.querySelectorAll('script, foreignObject').forEach((n) => n.remove());
  return document.importNode(svg, true);
}

// A promise's outcome without throwing: {value} or {error}.
async function settle(promise) {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

// ---- formatting ------------------------------------------------------------

// API dates are epoch seconds (possibly fractional); history timestamps may
// also come as RFC 3339 text.
function toDate(value) {
  if (typeof value === 'number') return new Date(value * 1000);
  if (typeof value === 'string' && value !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? new Date(n * 1000) : new Date(value);
  }
  return null;
}

function fmtDate(value) {
  const d = toDate(value);
  if (!d || Number.isNaN(d.getTime())) return value == null ? '' : String(value);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function fmtDuration(ms) {
  if (!Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

// JSON text (as the API gives inputs and outputs) made readable; other text as is.
function pretty(text) {
  if (typeof text !== 'string') return JSON.stringify(text, null, 2) ?? '';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (_) {
    return text;
  }
}

function parseMaybe(text) {
  if (typeof text !== 'string') return text;
  try {
    return JSON.parse(text);
  } catch (_) {
    return text;
  }
}

// A definition as its author laid it out, unless it is all on one line.
function asWritten(definition) {
  const text = typeof definition === 'string' ? definition : JSON.stringify(definition ?? '');
  return text.includes('\n') ? text : pretty(text);
}

// The last part of an ARN (a state machine's or an execution's name).
function arnName(arn) {
  const s = String(arn ?? '');
  return s.slice(s.lastIndexOf(':') + 1) || s;
}

function badge(status) {
  const s = String(status ?? 'UNKNOWN');
  return `<span class="badge badge-${esc(s.toLowerCase())}">${esc(s)}</span>`;
}

const smLink = (arn, text) => `<a href="#/sm/${esc(encodeURIComponent(arn))}">${esc(text)}</a>`;
const execLink = (arn, text) => `<a href="#/exec/${esc(encodeURIComponent(arn))}">${esc(text)}</a>`;

// ---- what happened to each state ---------------------------------------------

// Events that end a state's work: the last one in a run says whether the
// state's work failed (a later …StateExited then means a catcher took it) or
// succeeded (after retries, perhaps).
const RESULT = {
  TaskSucceeded: 'ok',
  LambdaFunctionSucceeded: 'ok',
  ActivitySucceeded: 'ok',
  ParallelStateSucceeded: 'ok',
  MapStateSucceeded: 'ok',
  MapRunSucceeded: 'ok',
  TaskFailed: 'fail',
  TaskTimedOut: 'fail',
  LambdaFunctionFailed: 'fail',
  LambdaFunctionTimedOut: 'fail',
  ActivityFailed: 'fail',
  ActivityTimedOut: 'fail',
  ParallelStateFailed: 'fail',
  MapStateFailed: 'fail',
  // A Distributed Map's map run (its children are executions of their own).
  MapRunFailed: 'fail',
  MapRunAborted: 'fail',
};

// A Map iteration's last event -> what became of it.
const ITERATION = {
  MapIterationStarted: 'running',
  MapIterationSucceeded: 'succeeded',
  MapIterationFailed: 'failed',
  MapIterationAborted: 'aborted',
};

// The history folded into runs: one per …StateEntered event, with the run
// it is nested in (a Parallel or Map state's), whether it exited, its last
// result, whether a sibling's failure stopped it, and for a Map state what
// became of each iteration. Returns {runs, owner}: owner maps an event id
// to its run.
//
// An event belongs to the run its previousEventId leads to: the engine
// chains each event to the latest one of its own branch or iteration, and
// the first of a branch to its parent's latest event (…StateStarted,
// MapIterationStarted). Branches and iterations run at the same time, so
// their events interleave: nothing here may assume the latest run is the
// one an event is about; the chain says which.
function foldHistory(events) {
  const sorted = events.filter((e) => e && typeof e === 'object' && Number.isFinite(e.id)).sort((a, b) => a.id - b.id);
  const runs = [];
  const owner = new Map(); // event id -> the run it belongs to (null: none)
  const after = new Map(); // event id -> the run the next event of its chain is in
  const latestOpen = () => {
    for (let i = runs.length - 1; i >= 0; i--) if (!runs[i].exited && !runs[i].over && !runs[i].superseded) return runs[i];
    return null;
  };
  const runBefore = (ev) => {
    const prev = ev.previousEventId;
    // A chain that leads nowhere known: the latest open run is the best guess.
    let run = after.has(prev) ? after.get(prev) : latestOpen();
    // A redrive entered that run's state again: what follows is its parent's.
    while (run && run.superseded) run = run.parent;
    return run;
  };
  // The open run named `name` an exit or abort is about: the run its chain
  // leads to, else (a chain this page cannot follow) the latest such run.
  const openRun = (before, name) => {
    if (before && before.name === name && !before.exited) return before;
    for (let i = runs.length - 1; i >= 0; i--) if (runs[i].name === name && !runs[i].exited && !runs[i].superseded) return runs[i];
    return null;
  };
  for (const ev of sorted) {
    const type = String(ev.type ?? '');
    if (type === 'ExecutionRedriven') {
      // Each unfinished branch or iteration enters again the state it ended
      // in (those runs, and everything inside them, no longer count); a
      // Parallel or Map state it ended in is not entered again: it goes on
      // in place, its finished children kept.
      let resumed = null;
      for (const run of runs) {
        if (run.superseded) continue;
        const p = run.parent;
        if (p && p.superseded) {
          run.superseded = true;
          continue;
        }
        run.live = (!p || p.live) && !run.exited;
        if (!run.live) continue;
        if (run.kind === 'Parallel' || run.kind === 'Map') {
          Object.assign(run, { lastResult: null, over: false, aborted: false, stopping: false });
          if (!p) resumed = run;
        } else {
          run.superseded = true;
        }
      }
      owner.set(ev.id, null);
      after.set(ev.id, resumed);
      continue;
    }
    const before = runBefore(ev);
    if (before) before.lastEventId = ev.id;
    if (type.endsWith('StateEntered')) {
      const name = String(ev.stateEnteredEventDetails?.name ?? '');
      const run = { name, kind: type.slice(0, -'StateEntered'.length), parent: before, exited: false, lastResult: null, over: false, aborted: false, lastEventId: ev.id };
      runs.push(run);
      owner.set(ev.id, run);
      after.set(ev.id, run);
    } else if (type.endsWith('StateExited') || type.endsWith('StateAborted')) {
      // An abort (TaskStateAborted, WaitStateAborted, …) has no details: it
      // is about the state its branch is in, the run its chain leads to.
      const exited = type.endsWith('StateExited');
      const name = exited ? String(ev.stateExitedEventDetails?.name ?? '') : before?.name;
      const run = openRun(before, name);
      if (run) {
        if (exited) run.exited = true;
        else run.aborted = true;
        run.lastEventId = ev.id;
        owner.set(ev.id, run);
        after.set(ev.id, exited ? run.parent : run);
      } else {
        owner.set(ev.id, before);
        after.set(ev.id, before);
      }
    } else {
      owner.set(ev.id, before);
      after.set(ev.id, before);
      if (!before) continue;
      if (RESULT[type]) before.lastResult = RESULT[type];
      if (type === 'MapStateStarted') {
        // A retry of the Map state runs every item again.
        const length = Number(ev.mapStateStartedEventDetails?.length);
        before.iterations = { length: Number.isFinite(length) ? length : null, byIndex: new Map() };
        before.stopping = false;
      } else if (ITERATION[type]) {
        const details = ev[type[0].toLowerCase() + type.slice(1) + 'EventDetails'] ?? {};
        before.iterations ??= { length: null, byIndex: new Map() };
        before.iterations.byIndex.set(String(details.index ?? `#${ev.id}`), ITERATION[type]);
        // Iterations are stopped only when the Map state fails: those
        // still at work are being stopped.
        if (type === 'MapIterationAborted') before.stopping = true;
        if (type === 'MapIterationFailed') finalFailure(runs, before);
      }
    }
  }
  return { runs, owner };
}

// A Map iteration failed: of the Map run's children that failed and are
// still open, the one that failed last is the iteration's failure, final
// (a tolerated failure; the others may be waiting to retry).
function finalFailure(runs, map) {
  let last = null;
  for (const run of runs) {
    if (run.parent !== map || run.exited || run.over || run.superseded) continue;
    if ((run.lastResult === 'fail' || run.kind === 'Fail') && (!last || run.lastEventId > last.lastEventId)) last = run;
  }
  if (last) last.over = true;
}

// A Map run's iterations counted by what became of them.
function iterationCounts(run) {
  const counts = { length: run.iterations?.length ?? null, started: 0, succeeded: 0, failed: 0, aborted: 0, running: 0 };
  for (const status of run.iterations?.byIndex.values() ?? []) {
    counts.started += 1;
    counts[status] += 1;
  }
  return counts;
}

// One run's status (see the legend); `running`: the execution is RUNNING.
function runStatus(run, running) {
  if (run.kind === 'Fail') return 'failed';
  if (run.exited) return run.lastResult === 'fail' ? 'caught' : 'succeeded';
  if (run.aborted) return 'aborted';
  // Inside a state a sibling's failure stopped, or an iteration of a Map
  // state stopping its iterations (unless this one's own work failed).
  let failedOnPath = run.lastResult === 'fail';
  for (let p = run.parent; p; p = p.parent) {
    if (p.aborted || (p.stopping && !failedOnPath)) return 'aborted';
    if (p.lastResult === 'fail') failedOnPath = true;
  }
  // Entered, never exited: the execution ended in it, or it failed and its
  // graph went on without it, or it is still at work (a retry, a wait...).
  if (!running || run.over) return 'failed';
  for (let p = run.parent; p; p = p.parent) if (p.exited || p.over || p.lastResult === 'fail') return 'failed';
  return 'in-progress';
}

// State name -> status, over every run of the state (branches and Map
// iterations at once, loops): what is running now first, then any failure,
// then one stopped, then a caught one.
function stateStatuses(runs, running) {
  const rank = { 'in-progress': 5, failed: 4, aborted: 3, caught: 2, succeeded: 1 };
  const out = new Map();
  for (const run of runs.filter((r) => !r.superseded)) {
    const s = runStatus(run, running);
    if (!out.has(run.name) || rank[s] > rank[out.get(run.name)]) out.set(run.name, s);
  }
  return out;
}

// Map state name -> its iterations' counts, summed over its runs (a Map
// inside a Map's iterations runs once per outer item).
function mapCounts(runs) {
  const out = new Map();
  for (const run of runs) {
    if (run.superseded || run.kind !== 'Map' || !run.iterations) continue;
    const c = iterationCounts(run);
    const sum = out.get(run.name);
    if (!sum) {
      out.set(run.name, c);
      continue;
    }
    for (const k of ['started', 'succeeded', 'failed', 'aborted', 'running']) sum[k] += c[k];
    sum.length = sum.length != null && c.length != null ? sum.length + c.length : null;
  }
  return out;
}

// "2/5 ✓ · 1 ✗ · 2 running": succeeded of all items, then what failed, was
// stopped or runs (each only when there is some).
function countsLabel(c) {
  const parts = [`${c.succeeded}/${c.length ?? c.started} ✓`];
  if (c.failed) parts.push(`${c.failed} ✗`);
  if (c.aborted) parts.push(`${c.aborted} stopped`);
  if (c.running) parts.push(`${c.running} running`);
  return parts.join(' · ');
}

function countsText(c) {
  const of = c.length != null ? ` of ${c.length}` : '';
  return `${c.started}${of} iterations started: ${c.succeeded} succeeded, ${c.failed} failed, ${c.aborted} stopped, ${c.running} running`;
}

// ---- pages -----------------------------------------------------------------

function legend() {
  const label = { succeeded: 'succeeded', caught: 'failed, caught', failed: 'failed', aborted: 'stopped (a sibling failed)', 'in-progress': 'in progress', 'not-run': 'not run' };
  return `<ul class="legend">${STATUSES.map((s) => `<li><span class="swatch" data-status="${s}"></span>${label[s]}</li>`).join('')}</ul>`;
}

function graphBox(outcome) {
  const box = document.createElement('div');
  box.className = 'graph';
  if (outcome.error) {
    if (outcome.error instanceof AuthNeeded) throw outcome.error;
    box.innerHTML = `<p class="error">${esc(outcome.error.message)}</p>`;
  } else {
    box.append(outcome.value);
  }
  return box;
}

async function listPage() {
  const { items, complete } = await all('ListStateMachines', { maxResults: 1000 }, 'stateMachines', 100);
  const rows = items
    .map(
      (m) => `<tr><td>${smLink(m.stateMachineArn, m.name ?? arnName(m.stateMachineArn))}</td><td>${esc(m.type ?? '')}</td><td>${esc(fmtDate(m.creationDate))}</td><td class="arn">${esc(m.stateMachineArn)}</td></tr>`,
    )
    .join('');
  const html = `<h1>State machines</h1>
    <section class="panel">
    ${items.length === 0 ? '<p class="muted">No state machines yet: create one with CreateStateMachine (e.g. <code>aws stepfunctions create-state-machine --endpoint-url …</code>).</p>' : `<table class="list" id="state-machines"><thead><tr><th>Name</th><th>Type</th><th>Created</th><th>ARN</th></tr></thead><tbody>${rows}</tbody></table>`}
    ${complete ? '' : '<p class="muted">More state machines exist than are shown.</p>'}
    </section>`;
  return { title: 'State machines', html };
}

async function smPage(arn) {
  const [described, executions, graph] = await Promise.all([
    settle(api('DescribeStateMachine', { stateMachineArn: arn })),
    all('ListExecutions', { stateMachineArn: arn, maxResults: 1000 }, 'executions', 100),
    settle(fetchGraph('stateMachineArn=' + encodeURIComponent(arn))),
  ]);
  if (described.error instanceof AuthNeeded) throw described.error;
  const sm = described.value ?? {};
  const name = sm.name ?? arnName(arn);
  const definition = described.error ? `<p class="error">${esc(described.error.message)}</p>` : `<pre class="json definition">${esc(asWritten(sm.definition))}</pre>`;
  const rows = executions.items
    .map((e) => {
      const ms = (toDate(e.stopDate)?.getTime() ?? NaN) - (toDate(e.startDate)?.getTime() ?? NaN);
      return `<tr><td>${execLink(e.executionArn, e.name ?? arnName(e.executionArn))}</td><td>${badge(e.status)}</td><td>${esc(fmtDate(e.startDate))}</td><td>${esc(fmtDate(e.stopDate))}</td><td>${esc(fmtDuration(ms))}</td></tr>`;
    })
    .join('');
  const html = `<p class="crumbs"><a href="#/">State machines</a> ›</p>
    <h1>${esc(name)}</h1>
    <p class="arn">${esc(arn)}${sm.creationDate != null ? ` · created ${esc(fmtDate(sm.creationDate))}` : ''}</p>
    <div class="columns">
      <section class="panel"><h2>Graph</h2><div id="graph-slot"></div></section>
      <section class="panel grow"><h2>Definition</h2>${definition}</section>
    </div>
    <section class="panel"><h2>Executions (${executions.items.length}${executions.complete ? '' : '+'})</h2>
    ${executions.items.length === 0 ? '<p class="muted">No executions yet.</p>' : `<table class="list" id="executions"><thead><tr><th>Name</th><th>Status</th><th>Started</th><th>Stopped</th><th>Duration</th></tr></thead><tbody>${rows}</tbody></table>`}
    </section>`;
  const running = executions.items.some((e) => e.status === 'RUNNING');
  return { title: name, html, graph: graphBox(graph), refresh: running };
}

// An event's details (every …EventDetails object) as "key value" lines:
// payloads as compact JSON, plain text (errors, causes, resources) as is.
function eventDetails(ev) {
  const lines = [];
  for (const [k, v] of Object.entries(ev)) {
    if (!k.endsWith('EventDetails') || !v || typeof v !== 'object') continue;
    for (const [dk, dv] of Object.entries(v)) {
      // The state's name has its own column.
      if (dk === 'name' && k.startsWith('state')) continue;
      let value;
      if (dk === 'assignedVariables' && dv && typeof dv === 'object') {
        value = JSON.stringify(Object.fromEntries(Object.entries(dv).map(([n, t]) => [n, parseMaybe(t)])));
      } else if (['input', 'output', 'parameters'].includes(dk)) {
        value = JSON.stringify(parseMaybe(dv));
      } else {
        value = typeof dv === 'string' ? dv : JSON.stringify(dv);
      }
      lines.push(`<div><span class="key">${esc(dk)}</span> ${esc(value)}</div>`);
    }
  }
  return lines.join('');
}

function eventClass(type) {
  if (/Failed$|TimedOut$|Aborted$/.test(type)) return 'ev-fail';
  if (/Succeeded$/.test(type)) return 'ev-ok';
  if (/StateEntered$/.test(type)) return 'ev-enter';
  return '';
}

async function execPage(arn) {
  const [exec, history, graph] = await Promise.all([
    api('DescribeExecution', { executionArn: arn }),
    all('GetExecutionHistory', { executionArn: arn, includeExecutionData: true, maxResults: 1000 }, 'events', 1000),
    settle(fetchGraph('executionArn=' + encodeURIComponent(arn))),
  ]);
  const running = exec.status === 'RUNNING';
  const { runs, owner } = foldHistory(history.items);
  const statuses = stateStatuses(runs, running);
  const counts = mapCounts(runs);
  const box = graphBox(graph);
  for (const g of box.querySelectorAll('g.state')) {
    const name = g.getAttribute('data-state') ?? '';
    const status = statuses.get(name) ?? 'not-run';
    g.setAttribute('data-status', status);
    const c = counts.get(name);
    const tip = document.createElementNS(g.namespaceURI, 'title');
    tip.textContent = `${name}: ${status}${c ? '; ' + countsText(c) : ''}`;
    g.prepend(tip);
    if (c) labelCounts(g, c);
  }
  const countsList = [...counts].map(
    ([name, c]) =>
      `<li data-state="${esc(name)}" data-started="${c.started}" data-succeeded="${c.succeeded}" data-failed="${c.failed}" data-aborted="${c.aborted}" data-running="${c.running}"><b>${esc(name)}</b> ${esc(countsText(c))}</li>`,
  );
  const t0 = toDate(history.items[0]?.timestamp)?.getTime();
  const rows = history.items
    .map((ev) => {
      const type = String(ev.type ?? '');
      const run = owner.get(ev.id);
      const details = eventDetails(ev);
      const ms = (toDate(ev.timestamp)?.getTime() ?? NaN) - t0;
      const when = fmtDate(ev.timestamp);
      return `<tr class="${eventClass(type)}" data-owner="${esc(run?.name ?? '')}"><td class="num">${esc(ev.id)}</td><td>${esc(type)}</td><td class="time" title="${esc(when)}">${esc(when.slice(11))}<span class="muted"> +${esc(fmtDuration(ms))}</span></td><td>${esc(run?.name ?? '')}</td><td class="details">${details}</td></tr>`;
    })
    .join('');
  const duration = (toDate(exec.stopDate)?.getTime() ?? Date.now()) - (toDate(exec.startDate)?.getTime() ?? NaN);
  const outcome =
    exec.error != null || exec.cause != null
      ? `<h3>Error</h3><pre class="json error-text">${esc(exec.error ?? '')}${exec.cause != null ? '\n' + esc(pretty(exec.cause)) : ''}</pre>`
      : exec.output != null
        ? `<h3>Output</h3><pre class="json">${esc(pretty(exec.output))}</pre>`
        : '';
  const html = `<p class="crumbs"><a href="#/">State machines</a> › ${smLink(exec.stateMachineArn ?? '', arnName(exec.stateMachineArn))} ›</p>
    <h1>${esc(exec.name ?? arnName(arn))} ${badge(exec.status)}</h1>
    <p class="arn">${esc(arn)}</p>
    <div class="columns">
      <section class="panel"><h2>Graph</h2><div id="graph-slot"></div>${legend()}${countsList.length ? `<ul class="map-counts" id="map-counts">${countsList.join('')}</ul>` : ''}</section>
      <section class="panel grow" id="summary"><h2>Execution</h2>
        <dl>
          <dt>Started</dt><dd>${esc(fmtDate(exec.startDate))}</dd>
          <dt>Stopped</dt><dd>${esc(fmtDate(exec.stopDate)) || '—'}</dd>
          <dt>Duration</dt><dd>${esc(fmtDuration(duration))}${running ? ' so far' : ''}</dd>
        </dl>
        ${outcome}
        <h3>Input</h3><pre class="json">${esc(pretty(exec.input ?? ''))}</pre>
      </section>
    </div>
    <section class="panel"><h2>Event history (${history.items.length}${history.complete ? '' : '+'} events)</h2>
      <table class="list history" id="history"><thead><tr><th>ID</th><th>Type</th><th>Timestamp</th><th>State</th><th>Details</th></tr></thead><tbody>${rows}</tbody></table>
    </section>`;
  return { title: exec.name ?? arnName(arn), html, graph: box, refresh: running, wire: wire };
}

// A Map state's iteration counts as a small label just above its box (its
// name and type are centred inside, its item processor fills the rest).
function labelCounts(g, counts) {
  const rect = g.querySelector('rect');
  const x = Number(rect?.getAttribute('x'));
  const y = Number(rect?.getAttribute('y'));
  if (!Number.isFinite(x) || !Number.isFinite(y)) return;
  const text = document.createElementNS(g.namespaceURI, 'text');
  text.setAttribute('class', 'map-counts');
  text.setAttribute('x', String(x + 2));
  text.setAttribute('y', String(y - 4));
  text.textContent = countsLabel(counts);
  g.append(text);
}

// Clicking a state in the graph marks its rows in the history; clicking a
// clipped payload shows all of it.
function wire(view) {
  view.querySelector('#history')?.addEventListener('click', (e) => e.target.closest?.('td.details div')?.classList.toggle('open'));
  for (const g of view.querySelectorAll('#graph-slot g.state')) {
    g.addEventListener('click', () => {
      const name = g.getAttribute('data-state');
      let first = null;
      for (const row of view.querySelectorAll('#history tbody tr')) {
        const mine = row.dataset.owner === name;
        row.classList.toggle('hl', mine);
        if (mine && !first) first = row;
      }
      first?.scrollIntoView({ behavior: 'smooth', block: 'center' });
    });
  }
}

// ---- routing and rendering ---------------------------------------------------

function authForm(view, message) {
  const hadSecret = sessionStorage.getItem(SECRET_KEY) !== null;
  sessionStorage.removeItem(SECRET_KEY);
  showAuthStatus();
  view.innerHTML = `<section class="panel auth" id="auth"><h1>API secret</h1>
    <p>${hadSecret ? 'The server did not accept the secret' : 'This server asks for its API secret'}: <span class="muted">${esc(message)}</span></p>
    <form id="auth-form"><label>Secret <input type="password" id="auth-secret" autocomplete="current-password" required autofocus></label>
    <button type="submit">Continue</button></form>
    <p class="muted">The SECRET of <code>stepwasm serve --api-secret KEY_ID:SECRET</code>. Kept in this tab only (sessionStorage), sent as <code>Authorization: Bearer …</code>.</p></section>`;
  view.querySelector('#auth-form').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(SECRET_KEY, view.querySelector('#auth-secret').value);
    showAuthStatus();
    render();
  });
}

function showAuthStatus() {
  const slot = document.getElementById('auth-status');
  if (sessionStorage.getItem(SECRET_KEY) === null) {
    slot.textContent = '';
    return;
  }
  slot.innerHTML = 'secret set · <a href="#" id="forget">forget</a>';
  slot.querySelector('#forget').addEventListener('click', (e) => {
    e.preventDefault();
    sessionStorage.removeItem(SECRET_KEY);
    showAuthStatus();
    render();
  });
}

function page() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const m = /^\/(sm|exec)\/(.+)$/.exec(hash);
  if (hash === '/') return listPage();
  if (!m) return Promise.reject(new ApiError(404, 'NotFound', `No page at #${hash}`));
  let arn;
  try {
    arn = decodeURIComponent(m[2]);
  } catch (_) {
    return Promise.reject(new ApiError(400, 'BadLink', `Not a valid link: #${hash}`));
  }
  return m[1] === 'sm' ? smPage(arn) : execPage(arn);
}

// A render started for an older hash must not paint over a newer page.
let generation = 0;
let refreshTimer = null;

async function render(refreshing = false) {
  const gen = ++generation;
  clearTimeout(refreshTimer);
  const view = document.getElementById('view');
  // <body data-ready>: loading, done, auth or error; what tests look for.
  document.body.dataset.ready = 'loading';
  if (!refreshing) view.innerHTML = '<p class="muted">Loading…</p>';
  try {
    const p = await page();
    if (gen !== generation) return;
    document.title = `${p.title} · stepwasm`;
    const scroll = window.scrollY;
    view.innerHTML = p.html;
    if (p.graph) view.querySelector('#graph-slot')?.append(p.graph);
    p.wire?.(view);
    if (refreshing) window.scrollTo(0, scroll);
    // While something runs, the page follows it (until one leaves the page).
    const hashAt = location.hash;
    if (p.refresh) refreshTimer = setTimeout(() => location.hash === hashAt && render(true), REFRESH_MS);
    document.body.dataset.ready = 'done';
  } catch (e) {
    if (gen !== generation) return;
    if (e instanceof AuthNeeded) {
      authForm(view, e.message);
      document.body.dataset.ready = 'auth';
    } else {
      view.innerHTML = `<section class="panel"><h1>Something went wrong</h1><p class="error">${esc(e?.message ?? e)}</p><p><a href="#/">Back to the state machines</a></p></section>`;
      document.body.dataset.ready = 'error';
    }
  }
}

window.addEventListener('hashchange', () => render());
showAuthStatus();
render();
