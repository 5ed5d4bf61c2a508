// Bundles a JavaScript handler with the SDK and builds it into a component
// (run by scripts/build-js-guest.sh, from target/jsguest where its packages
// are installed): node js-guest-build.mjs <work dir> <entry.js> <world> <out.wasm>
// The work dir holds the entry module, the SDK copy it aliases as
// `stepwasm-guest`, and wit/ with the world to build for.
import { componentize } from '@bytecodealliance/componentize-js';
import { build } from 'esbuild';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const [work, entry, world, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: node js-guest-build.mjs <work dir> <entry.js> <world> <out.wasm>');
  process.exit(2);
}
await build({
  entryPoints: [entry],
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  outfile: join(work, 'bundle.js'),
  // The host's interfaces are the component's imports, not modules to bundle.
  external: ['stepwasm:*', 'wasi:*'],
  alias: { 'stepwasm-guest': join(work, 'sdk', 'index.js') },
  logLevel: 'warning',
});
// componentize-js reads its files relative to the working directory.
process.chdir(work);
const { component } = await componentize({
  sourcePath: 'bundle.js',
  witPath: 'wit',
  worldName: world,
  // Neither wasi:http nor an incoming-handler export: the host serves the
  // task world's imports and WASI's CLI interfaces with nothing granted.
  // STEPWASM_JS_WASI_HTTP=1 keeps wasi:http (the global fetch()), which the
  // host serves only to a resource granted http.
  disableFeatures: process.env.STEPWASM_JS_WASI_HTTP === '1' ? ['fetch-event'] : ['http', 'fetch-event'],
});
await writeFile(out, component);
