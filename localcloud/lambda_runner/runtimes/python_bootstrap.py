"""The Python runtime of a localcloud Lambda worker (an execution environment).

Runs on the machine's base interpreter with ``-I -S -u``: no project venv, no site-packages.
argv: token ctl_fd res_fd task_root sdk_dir [layer_dir ...]

Protocol with the runner (localcloud/lambda_runner/worker.py):
- init: import the handler, then write the output marker on fd 1 and one JSON line on res_fd
  ({"init": "ok"} or {"init": "error", "error": {...}, "log": "..."}).
- then per request line read from ctl_fd ({"requestId", "event", "deadlineMs", ...}): call the
  handler, write the marker on fd 1 (fds 1 and 2 are the log pipe), then one JSON line on res_fd
  ({"ok": true, "payload": "<json>"} or {"ok": false, "error": {...}, "log": "..."}), with "rssKb".
"""

import decimal
import importlib
import json
import logging
import os
import resource
import sys
import time
import traceback

TOKEN, CTL_FD, RES_FD, TASK_ROOT, SDK_DIR, *LAYER_DIRS = sys.argv[1:]
CTL_FD, RES_FD = int(CTL_FD), int(RES_FD)
MARKER = ("\x1f" + TOKEN + "\x1f\n").encode()

_request_id = ""


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _request_id
        return True


def _install_root_logger():
    """As the Lambda Python runtime does: a root handler in its text format, level WARNING."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
        )
    )
    handler.formatter.converter = time.gmtime
    handler.addFilter(_RequestIdFilter())
    logging.getLogger().addHandler(handler)


class LambdaContext:
    def __init__(self, request):
        env = os.environ
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = int(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.log_group_name = env["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.invoked_function_arn = request["invokedFunctionArn"]
        self.aws_request_id = request["requestId"]
        self.client_context = request.get("clientContext")
        self.identity = None
        self._deadline_ms = request["deadlineMs"]

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def __repr__(self):
        return f"LambdaContext([aws_request_id={self.aws_request_id},function_name={self.function_name}])"


class InitError(Exception):
    def __init__(self, error_type, message, stack=None):
        super().__init__(message)
        self.error = {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": "",
            "stackTrace": stack or [],
        }


def _load_handler(spec):
    try:
        module_path, function_name = spec.rsplit(".", 1)
    except ValueError:
        raise InitError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)",
        ) from None
    module_name = module_path.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {e}"
        ) from None
    except SyntaxError as e:
        raise InitError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {e}", _stack(e)
        ) from None
    except Exception as e:  # any exception raised while importing the module
        raise InitError(type(e).__name__, str(e), _stack(e)) from None
    handler = getattr(module, function_name, None)
    if handler is None:
        raise InitError(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
        )
    return handler


def _stack(exc):
    """The traceback of the function's own code: frames of this runtime and of importlib left out."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return [f'  File "{exc.filename}" Line {exc.lineno}\n        {(exc.text or "").strip()}\n']
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename != __file__ and not f.filename.startswith("<frozen") and "/importlib/" not in f.filename
    ]
    return traceback.format_list(frames)


def _error_log(error):
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    if error.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        lines.extend(s.rstrip("\n") for s in error["stackTrace"])
    return "\n".join(lines)


def _json_default(value):
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _finish(reply):
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(1, MARKER)
    reply["rssKb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    data = (json.dumps(reply) + "\n").encode()
    while data:
        data = data[os.write(RES_FD, data) :]


def _invoke(handler, request):
    global _request_id
    _request_id = request["requestId"]
    if request.get("traceId"):  # as Lambda's runtime sets it per invocation
        os.environ["_X_AMZN_TRACE_ID"] = request["traceId"]
    try:
        event = json.loads(request["event"])
        result = handler(event, LambdaContext(request))
    except Exception as e:
        error = {
            "errorMessage": str(e),
            "errorType": type(e).__name__,
            "requestId": _request_id,
            "stackTrace": _stack(e),
        }
        return {"ok": False, "error": error, "log": _error_log(error)}
    try:
        return {"ok": True, "payload": json.dumps(result, default=_json_default)}
    except (TypeError, ValueError) as e:
        error = {
            "errorMessage": f"Unable to marshal response: {e}",
            "errorType": "Runtime.MarshalError",
            "requestId": _request_id,
            "stackTrace": [],
        }
        return {"ok": False, "error": error, "log": _error_log(error)}


def main():
    # As on Lambda: the function's code, then its layers (/opt/python), then the SDK, then stdlib.
    sys.path[:0] = [TASK_ROOT, *LAYER_DIRS, SDK_DIR]
    os.chdir(TASK_ROOT)
    _install_root_logger()
    try:
        handler = _load_handler(os.environ["_HANDLER"])
    except InitError as e:
        _finish({"init": "error", "error": e.error, "log": _error_log(e.error)})
        return
    _finish({"init": "ok"})
    with os.fdopen(CTL_FD, "rb") as ctl:
        for line in iter(ctl.readline, b""):
            _finish(_invoke(handler, json.loads(line)))


if __name__ == "__main__":
    main()
