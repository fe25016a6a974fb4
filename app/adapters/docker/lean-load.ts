// dockerode loads SSH (ssh2) and BuildKit-session (gRPC, protobuf) code as soon as it is imported: some 15 MB of
// a Pi's memory for transports that a node reaching Docker over its Unix socket never uses. These modules resolve
// to a stub instead, whose every function fails loudly, so a use could not go unnoticed. server.ts imports this
// first, before anything loads dockerode; in-process tests load dockerode whole, which works the same.
import { registerHooks } from 'node:module';

const UNUSED = /^(ssh2|@grpc\/grpc-js|@grpc\/proto-loader)(\/|$)/;
const STUB = 'lores-unused:';

registerHooks({
  resolve(specifier, context, next) {
    return UNUSED.test(specifier) ? { url: `${STUB}${encodeURIComponent(specifier)}`, format: 'commonjs', shortCircuit: true } : next(specifier, context);
  },
  load(url, context, next) {
    if (!url.startsWith(STUB)) return next(url, context);
    const name = decodeURIComponent(url.slice(STUB.length));
    const fail = `throw new Error(${JSON.stringify(`LoRes Node does not load ${name}: it reaches Docker over its Unix socket only`)})`;
    // Property reads succeed (dockerode reads them at load time); calling or constructing anything throws.
    const source = `const unused = function () { ${fail} }; module.exports = new Proxy({}, { get: (_, key) => (key === '__esModule' || typeof key === 'symbol' ? undefined : unused) });`;
    return { format: 'commonjs', source, shortCircuit: true };
  },
});
