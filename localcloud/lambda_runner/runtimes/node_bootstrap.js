// The Node.js runtime of a localcloud Lambda worker (an execution environment).
// argv: token ctlFd resFd taskRoot. Same protocol as python_bootstrap.py: after init and after each
// invocation, write the marker on fd 1 (fds 1 and 2 are the log pipe), then one JSON line on resFd.
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const util = require('util');
const { pathToFileURL } = require('url');

const [token, ctlFdArg, resFdArg, taskRoot] = process.argv.slice(2);
const CTL_FD = Number(ctlFdArg);
const RES_FD = Number(resFdArg);
const MARKER = '\x1f' + token + '\x1f\n';
let requestId = undefined;

// NODE_PATH (layers, then the runtime's AWS SDK v3) also for `import`: see node_esm_fallback.mjs.
const nodePath = (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean);
const nodeModule = require('module');
if (nodePath.length && typeof nodeModule.register === 'function') {
  nodeModule.register('./node_esm_fallback.mjs', pathToFileURL(__filename), { data: { dirs: nodePath } });
}

// As the Lambda Node.js runtime does: console lines get "<time>\t<requestId>\t<LEVEL>\t", and a
// multi-line message stays one log event (newlines become carriage returns).
for (const [method, level] of [['log', 'INFO'], ['info', 'INFO'], ['warn', 'WARN'], ['error', 'ERROR'], ['debug', 'DEBUG'], ['trace', 'TRACE']]) {
  console[method] = (...args) => {
    const line = `${new Date().toISOString()}\t${requestId}\t${level}\t${util.format(...args)}`;
    fs.writeSync(1, line.replace(/\n/g, '\r') + '\n');
  };
}

function writeAll(fd, text) {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off);
}

function finish(reply) {
  writeAll(1, MARKER);
  reply.rssKb = process.resourceUsage().maxRSS;
  writeAll(RES_FD, JSON.stringify(reply) + '\n');
}

function errorOf(err) {
  if (err instanceof Error) {
    return { errorType: err.name || 'Error', errorMessage: err.message, trace: String(err.stack || '').split('\n') };
  }
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}

function errorLog(error) {
  return `${new Date().toISOString()}\t${requestId}\tERROR\tInvoke Error \t${JSON.stringify(error)}`;
}

class InitError extends Error {
  constructor(type, message, stack) {
    super(message);
    this.error = { errorType: type, errorMessage: message, trace: stack || [] };
  }
}

async function loadHandler(spec) {
  const slash = spec.lastIndexOf('/');
  const dir = spec.slice(0, slash + 1);
  const rest = spec.slice(slash + 1);
  const dot = rest.indexOf('.');
  if (dot < 0) throw new InitError('Runtime.MalformedHandlerName', `Bad handler ${spec}`);
  const moduleName = dir + rest.slice(0, dot);
  const handlerPath = rest.slice(dot + 1).split('.');
  const base = path.resolve(taskRoot, moduleName);
  let mod;
  try {
    const file = ['.js', '.cjs', '.mjs'].map((ext) => base + ext).find((f) => fs.existsSync(f));
    if (!file) throw Object.assign(new Error(`Cannot find module '${moduleName}'`), { handlerMissing: true });
    mod = file.endsWith('.mjs') ? await import(pathToFileURL(file).href) : require(file);
  } catch (e) {
    if (e instanceof SyntaxError) throw new InitError('Runtime.UserCodeSyntaxError', `${e.name}: ${e.message}`, String(e.stack).split('\n'));
    // As Lambda's runtime: the handler's own file missing names the handler's module; a module it
    // requires that is missing keeps Node's message, which names that module and the require stack.
    if (e && e.handlerMissing) throw new InitError('Runtime.ImportModuleError', `Error: Cannot find module '${moduleName}'`);
    if (e && (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND')) {
      throw new InitError('Runtime.ImportModuleError', `Error: ${e.message}`, String(e.stack || '').split('\n'));
    }
    throw new InitError(e && e.name ? e.name : 'Error', e && e.message ? e.message : String(e), String((e && e.stack) || '').split('\n'));
  }
  let handler = mod;
  for (const part of handlerPath) handler = handler == null ? undefined : handler[part];
  if (typeof handler !== 'function') {
    throw new InitError('Runtime.HandlerNotFound', `${moduleName}.${handlerPath.join('.')} is undefined or not exported`);
  }
  return handler;
}

function context(request) {
  const env = process.env;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: request.invokedFunctionArn,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: request.requestId,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: request.clientContext,
    identity: undefined,
    getRemainingTimeInMillis: () => Math.max(0, Math.floor(request.deadlineMs - Date.now())),
  };
}

// async handlers resolve their promise; callback-style handlers call callback(err, result).
function runHandler(handler, event, ctx) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err);
      else resolve(result);
    };
    ctx.done = callback;
    ctx.succeed = (result) => callback(null, result);
    ctx.fail = (err) => callback(err || new Error('handled'));
    let returned;
    try {
      returned = handler(event, ctx, callback);
    } catch (e) {
      callback(e);
      return;
    }
    if (returned && typeof returned.then === 'function') returned.then((v) => callback(null, v), (e) => callback(e));
    else if (handler.length < 3) callback(null, returned);
  });
}

async function invoke(handler, request) {
  requestId = request.requestId;
  if (request.traceId) process.env._X_AMZN_TRACE_ID = request.traceId; // as Lambda's runtime sets it per invocation
  try {
    const result = await runHandler(handler, JSON.parse(request.event), context(request));
    const payload = JSON.stringify(result === undefined ? null : result);
    return { ok: true, payload: payload === undefined ? 'null' : payload };
  } catch (e) {
    const error = errorOf(e);
    return { ok: false, error, log: errorLog(error) };
  }
}

async function main() {
  process.chdir(taskRoot);
  let handler;
  try {
    handler = await loadHandler(process.env._HANDLER || '');
  } catch (e) {
    const error = e instanceof InitError ? e.error : errorOf(e);
    finish({ init: 'error', error, log: errorLog(error) });
    process.exit(0);
  }
  finish({ init: 'ok' });
  const lines = readline.createInterface({ input: fs.createReadStream(null, { fd: CTL_FD }), crlfDelay: Infinity });
  for await (const line of lines) {
    finish(await invoke(handler, JSON.parse(line)));
  }
  process.exit(0);
}

main();
