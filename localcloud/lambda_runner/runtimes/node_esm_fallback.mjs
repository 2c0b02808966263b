// A module resolve hook for the localcloud Node.js runtime (registered by node_bootstrap.js).
// ES modules ignore NODE_PATH, yet on Lambda an ES module handler imports the AWS SDK v3 that the
// runtime bundles. So when an `import` of a package is not found the usual way (the module's own
// node_modules, walking up), the NODE_PATH folders are tried in order, as `require` does.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

let dirs = [];

export async function initialize(data) {
  dirs = (data && data.dirs) || [];
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    const bare = !specifier.startsWith('.') && !specifier.startsWith('/') && !specifier.includes(':');
    if (!err || err.code !== 'ERR_MODULE_NOT_FOUND' || !bare) throw err;
    for (const dir of dirs) {
      try {
        return await nextResolve(specifier, { ...context, parentURL: pathToFileURL(path.join(dir, 'index.mjs')).href });
      } catch {
        // not in this folder: the next one
      }
    }
    throw err;
  }
}
