// The host's capabilities as the component imports them. This file is what
// a handler sees outside a component (Node, for unit tests): none imported,
// so the SDK's log, kv and http use their native fallbacks.
// scripts/build-js-guest.sh replaces it, in its copy of the SDK, with one
// that imports the capabilities the resource is granted.
export const inComponent = false;
export const log = null;
export const kv = null;
export const http = null;
