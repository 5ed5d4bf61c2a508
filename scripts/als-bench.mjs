// The peer comparison of `stepwasm-bench --compare-als`: runs a definition on
// aws-local-stepfunctions (installed by scripts/install-als.sh) for a number
// of seconds, one execution at a time, each Task state answered by an echo
// handler (its input unchanged, as the echo module does), and prints one JSON
// line: the executions per second, p50/p99 latency in µs, the package's
// version, and the first execution's output for the bench to compare with
// its own.
//
// Usage: node scripts/als-bench.mjs <als dir> <definition.json> <input.json> <seconds>
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';

// aws-local-stepfunctions 3 asks for Node 22; this is the one Node 22 API it uses.
Promise.withResolvers ??= function withResolvers() {
  let resolve, reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
};

const [alsDir, definitionPath, inputPath, secondsText] = process.argv.slice(2);
if (!alsDir || !definitionPath || !inputPath || !(Number(secondsText) > 0)) {
  console.error('usage: node scripts/als-bench.mjs <als dir> <definition.json> <input.json> <seconds>');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(alsDir), 'package.json'));
const { StateMachine } = require('aws-local-stepfunctions');
const packageDir = path.join(path.resolve(alsDir), 'node_modules', 'aws-local-stepfunctions');
const version = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')).version;

const definition = JSON.parse(readFileSync(definitionPath, 'utf8'));
const input = JSON.parse(readFileSync(inputPath, 'utf8'));

// Every Task state, at any depth, answered by the echo handler.
const handlers = {};
(function collect(states) {
  for (const [name, state] of Object.entries(states ?? {})) {
    if (state.Type === 'Task') handlers[name] = async (taskInput) => taskInput;
    for (const branch of state.Branches ?? []) collect(branch.States);
    collect((state.ItemProcessor ?? state.Iterator)?.States);
  }
})(definition.States);

const machine = new StateMachine(definition);
const run = () => machine.run(input, { overrides: { taskResourceLocalHandlers: handlers } }).result;

const output = await run();
const warmUntil = performance.now() + 500;
while (performance.now() < warmUntil) await run();

const latencies = [];
const start = performance.now();
const budget = Number(secondsText) * 1000;
while (performance.now() - start < budget) {
  const t = performance.now();
  await run();
  latencies.push(performance.now() - t);
}
const elapsed = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] * 1000;
console.log(JSON.stringify({
  version,
  node: process.version,
  executions: latencies.length,
  per_second: latencies.length / elapsed,
  p50_us: pct(0.5),
  p99_us: pct(0.99),
  output,
}));
