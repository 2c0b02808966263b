"""Issues, the pure part: recognising an error in a function's log line, its fingerprint, the
masking of a sample, and what one batch of occurrences does to an issue (counts per build, a few
samples, ``open`` | ``resolved`` | ``ignored`` | ``regressed``). No boto3 here.

What is recognised (a line is one CloudWatch Logs event, possibly many text lines):

* Python tracebacks (``Traceback (most recent call last):`` ... ``NameError: ...``), as the runtime
  writes an unhandled one (``[ERROR] NameError: ...`` first) or an app prints it;
* Powertools ``logger.exception`` JSON (``"level": "ERROR"``, ``"exception"``, ``"exception_name"``,
  or the serialised ``"stack_trace"``); a JSON line at level ERROR without one is a logged error;
* Lambda's function errors (``{"errorType", "errorMessage", "stackTrace" | "stack" | "trace"}``),
  bare or after Node.js's ``ERROR\\tInvoke Error``;
* Node.js errors (``TypeError: ...`` then ``    at fn (/var/task/x.js:3:9)``) and ``console.error``
  lines (``<time>\\t<request id>\\tERROR\\t<text>``);
* ``Task timed out after N seconds``, out-of-memory (``Runtime.OutOfMemory``, ``signal: killed``)
  and runtime exits (``Runtime exited with error``, ``Runtime.ExitError``);
* anything else that says ERROR, FATAL, Exception or panic: an ``UnrecognisedError`` grouped by
  its first line, so an error in an unknown language is still seen.

The fingerprint is the error type and the innermost frame in the app's own code (file and
function, never the line number); without such a frame, the type and the message with numbers,
ids and quoted values normalised. Every field is cut to a bound before it is stored: an app's log
lines are written by whoever wrote the app.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

MAX_LINE_CHARS = 64 * 1024  # of one log event, read (CloudWatch Logs allows 256 KB)
MAX_TYPE = 120
MAX_MESSAGE = 300
MAX_FRAME = 160
MAX_SAMPLE = 2048
MAX_SAMPLES = 5  # per issue: the first one and the newest four
MAX_BUILDS_COUNTED = 50  # counts per build kept for the newest builds; ``count`` keeps the total
MAX_ISSUES_PER_STAGE = 200  # past it, new fingerprints are counted in one overflow issue
MAX_FINGERPRINTS_PER_BATCH = 50  # distinct fingerprints written per delivered batch; the rest overflow
MAX_RECENT_BATCHES = 32  # batch keys an issue remembers: a batch delivered or retried again counts once
OVERFLOW_TYPE = "Sprout.TooManyIssues"
STATUSES = ("open", "resolved", "ignored", "regressed")
SETTABLE = ("open", "resolved", "ignored")
MASKED = "(value masked)"

_PY_FRAME = re.compile(r'^\s*File "(?P<file>[^"\n]{1,1000})", line \d+, in (?P<fn>[^\n]{1,300})$', re.M)
_PY_EXC = re.compile(r"^(?P<type>[A-Za-z_][\w.]{0,200})(?::\s?(?P<msg>.*))?$")
_NODE_FRAME = re.compile(r"^\s*at (?:(?P<fn>[^\n(]{1,300}?) \()?(?:file://)?(?P<file>[^\n()]{1,1000}?):\d+:\d+\)?\s*$", re.M)
_NODE_HEAD = re.compile(r"^(?P<type>[A-Za-z_$][\w$.]{0,200}(?:Error|Exception)|Error)(?: \[[\w-]+\])?: (?P<msg>[^\n]*)$", re.M)
_ERROR_WORDS = re.compile(r"\b(ERROR|FATAL|CRITICAL|Exception|panic:|panicked)", re.I)
_NOT_APP = ("site-packages/", "dist-packages/", "node_modules/", "/opt/", "/var/runtime/", "/var/lang/", "/usr/lib/",
            "/usr/local/lib/", "<frozen", "node:", "internal/", "/lib/python3")
_TASK_ROOT = "/var/task/"


@dataclass(frozen=True)
class Frame:
    file: str
    function: str


@dataclass(frozen=True)
class Recognised:
    """An error as read from one log line."""

    type: str
    message: str
    frame: Frame | None
    kind: str  # python | powertools | lambda | node | console | logged | timeout | oom | exit | unrecognised

    @property
    def fingerprint(self) -> str:
        where = f"{self.frame.file}\n{self.frame.function}" if self.frame else f"\n{normalise(self.message)}"
        return hashlib.sha256(f"{self.type}\n{where}".encode()).hexdigest()[:20]

    @property
    def title(self) -> str:
        if self.frame:
            return f"{self.type} in {self.frame.file}:{self.frame.function}"
        return f"{self.type}: {normalise(self.message)}"[: MAX_TYPE + MAX_MESSAGE]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def normalise(message: str) -> str:
    """The message with what varies between occurrences replaced: quoted values, UUIDs, long hex
    ids, times and numbers (``user 42 'bob' not found`` -> ``user <n> '<v>' not found``)."""
    text = message[:4 * MAX_MESSAGE]
    text = re.sub(r"'[^'\n]{0,200}'", "'<v>'", text)
    text = re.sub(r'"[^"\n]{0,200}"', '"<v>"', text)
    text = re.sub(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "<id>", text)
    text = re.sub(r"\b\d{4}-\d{2}-\d{2}[T ][\d:.]+Z?\b", "<time>", text)
    text = re.sub(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{12,}\b", "<id>", text)
    text = re.sub(r"\d+(\.\d+)?", "<n>", text)
    return _cut(" ".join(text.split()), MAX_MESSAGE)


def _is_app(file: str) -> bool:
    return bool(file) and not any(marker in file for marker in _NOT_APP)


def _frame(file: str, function: str) -> Frame:
    """A frame as fingerprints name it: the file relative to Lambda's task root (``/var/task/``),
    or its base name where the runtime unpacked the code elsewhere; the function's name."""
    file = file.strip().removeprefix("file://")
    file = file.split(_TASK_ROOT, 1)[1] if _TASK_ROOT in file else file.rsplit("/", 1)[-1]
    return Frame(_cut(file, MAX_FRAME), _cut(function.strip() or "<anonymous>", MAX_FRAME))


def _python_frames(text: str) -> list[Frame]:
    return [_frame(m["file"], m["fn"]) for m in _PY_FRAME.finditer(text) if _is_app(m["file"])]


def _node_frames(text: str) -> list[Frame]:
    return [_frame(m["file"], m["fn"] or "<anonymous>") for m in _NODE_FRAME.finditer(text) if _is_app(m["file"])]


def _python_traceback(text: str, kind: str) -> Recognised | None:
    """The exception (the last unindented ``Type: message`` line after the frames) and the
    innermost frame of the app's own code (the last one: most recent call last)."""
    start = text.find("Traceback (most recent call last):")
    if start < 0:
        return None
    tail = text[start:].splitlines()[1:]
    exc = None
    for line in tail:
        if line and not line[0].isspace():
            m = _PY_EXC.match(line.strip())
            if m and not line.startswith("Traceback"):
                exc = m
    head = re.match(r"^\[ERROR\] (?P<type>[A-Za-z_][\w.]*): (?P<msg>[^\n]*)", text)
    frames = _python_frames(text[start:])
    if exc is None and head is None:  # cut before its exception line (a line past MAX_LINE_CHARS)
        return Recognised("PythonError", "a traceback without its exception line", frames[-1] if frames else None, kind)
    type_, msg = (exc["type"], exc["msg"] or "") if exc else (head["type"], head["msg"])  # type: ignore[index]
    return Recognised(_cut(type_, MAX_TYPE), _cut(msg, MAX_MESSAGE), frames[-1] if frames else None, kind)


def _stack_text(stack: Any) -> str:
    if isinstance(stack, list):
        return "\n".join(str(s) for s in stack[:200])
    return str(stack or "")


def _lambda_error(doc: dict[str, Any]) -> Recognised:
    """Lambda's ``{"errorType", "errorMessage", "stackTrace"|"stack"|"trace"}``."""
    type_ = _cut(str(doc.get("errorType") or "Error"), MAX_TYPE)
    message = _cut(str(doc.get("errorMessage") or ""), MAX_MESSAGE)
    stack = _stack_text(doc.get("stackTrace") or doc.get("stack") or doc.get("trace"))
    python = _python_frames(stack)
    if python:
        return Recognised(type_, message, python[-1], "lambda")
    node = _node_frames(stack)
    return Recognised(type_, message, node[0] if node else None, "lambda")


def _powertools(doc: dict[str, Any]) -> Recognised | None:
    level = str(doc.get("level") or doc.get("levelname") or "").upper()
    if level not in ("ERROR", "CRITICAL"):
        return None
    serialised = doc.get("stack_trace")
    if isinstance(serialised, dict) and serialised.get("type"):
        frames = [_frame(str(f.get("file", "")), str(f.get("function", ""))) for f in serialised.get("frames") or []
                  if isinstance(f, dict) and _is_app(str(f.get("file", "")))]
        return Recognised(_cut(str(serialised["type"]), MAX_TYPE), _cut(str(serialised.get("value") or ""), MAX_MESSAGE),
                          frames[-1] if frames else None, "powertools")
    exception = doc.get("exception")
    if isinstance(exception, str) and exception:
        found = _python_traceback(exception, "powertools")
        if found is not None:
            name = doc.get("exception_name")
            return replace(found, type=_cut(str(name), MAX_TYPE)) if name else found
    return Recognised("ERROR", _cut(str(doc.get("message") or ""), MAX_MESSAGE), None, "logged")


def _json_object(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    if start < 0 or len(text) - start > MAX_LINE_CHARS:
        return None
    try:
        doc = json.loads(text[start:])
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _node(text: str, kind: str) -> Recognised | None:
    head = _NODE_HEAD.search(text)
    if head is None:
        return None
    if not _NODE_FRAME.search(text, head.end()):  # "TypeError: ..." alone, at the start: an error without a stack
        return Recognised(_cut(head["type"], MAX_TYPE), _cut(head["msg"], MAX_MESSAGE), None, kind) \
            if head.start() == 0 else None
    frames = _node_frames(text[head.end():])
    return Recognised(_cut(head["type"], MAX_TYPE), _cut(head["msg"], MAX_MESSAGE), frames[0] if frames else None, kind)


def recognise(line: str) -> Recognised | None:
    """The error a log line reports, or None when it reports none."""
    text = line[:MAX_LINE_CHARS].strip()
    if not text:
        return None
    if "Task timed out after" in text:
        seconds = re.search(r"Task timed out after ([\d.]+) seconds", text)
        return Recognised("Sandbox.Timedout", f"Task timed out after {seconds[1] if seconds else '?'} seconds", None,
                          "timeout")
    if "Runtime.OutOfMemory" in text or "signal: killed" in text:
        return Recognised("Runtime.OutOfMemory", "Runtime exited: out of memory", None, "oom")
    if "Runtime exited with error" in text or "Runtime.ExitError" in text:
        status = re.search(r"Runtime exited with error: ([^\n]{0,100})", text)
        return Recognised("Runtime.ExitError", f"Runtime exited with error: {status[1] if status else 'unknown'}", None,
                          "exit")
    console = re.match(r"^\S+\t\S+\t(ERROR|FATAL)\t(?P<rest>.*)$", text, re.S)
    if console:  # Node.js: <time>\t<request id>\tERROR\t<text>
        rest = console["rest"]
        doc = _json_object(rest) if re.match(r"^(Invoke Error|Uncaught Exception|Unhandled Promise Rejection)", rest) \
            else None
        if doc and "errorType" in doc:
            return _lambda_error(doc)
        return _node(rest, "node") or Recognised("console.error", _cut(rest.splitlines()[0] if rest else "", MAX_MESSAGE),
                                                 None, "console")
    if text.startswith("{"):
        doc = _json_object(text)
        if doc is not None:
            if "errorType" in doc and "errorMessage" in doc:
                return _lambda_error(doc)
            found = _powertools(doc)
            if found is not None:
                return found
            return None
    found = _python_traceback(text, "python")
    if found is not None:
        return found
    head = re.match(r"^\[ERROR\] (?P<type>[A-Za-z_][\w.]*): (?P<msg>[^\n]*)", text)
    if head:  # the Python runtime's error line without a traceback (Runtime.ImportModuleError, ...)
        return Recognised(_cut(head["type"], MAX_TYPE), _cut(head["msg"], MAX_MESSAGE), None, "python")
    logged = re.match(r"^\[(ERROR|CRITICAL)\]\t\S+\t\S+\t(?P<msg>[^\n]*)", text)
    if logged:  # the Python runtime's logging format
        return Recognised("ERROR", _cut(logged["msg"], MAX_MESSAGE), None, "logged")
    found = _node(text, "node")
    if found is not None:
        return found
    if _ERROR_WORDS.search(text[:4096]):
        return Recognised("UnrecognisedError", _cut(text.splitlines()[0], MAX_MESSAGE), None, "unrecognised")
    return None


# ---- masking -------------------------------------------------------------------------------------

_SECRET_PAIR = re.compile(
    r"(?i)(\b(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|authorization|credentials?|"
    r"private[_-]?key)\b[\"']?\s*[:=]\s*[\"']?)(?!\(value masked\))([^\s\"',;}]+)")
_SECRET_SHAPES = (
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    re.compile(r"(?i)\bBearer\s+[\w\-.~+/]+=*"),
    re.compile(r"\beyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]{5,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)"),
)
MIN_MASKED_VALUE = 4  # shorter environment values ("1", "dev") would mask half of every line


def mask(text: str, values: Iterable[str] = ()) -> str:
    """A sample as Sprout stores and shows it: masked (``mask_values``), then cut to ``MAX_SAMPLE``
    characters."""
    return _cut(mask_values(text[: MAX_SAMPLE * 4], values), MAX_SAMPLE)


def mask_values(text: str, values: Iterable[str] = ()) -> str:
    """A log line as Sprout shows it (an issue's samples, ``GET .../functions/{fn}/logs``): the
    build's environment values (as change sets mask them) and secret-looking values
    (``password=...``, access keys, bearer tokens, JWTs, private keys) replaced by ``(value masked)``."""
    for value in sorted({v for v in values if isinstance(v, str) and len(v) >= MIN_MASKED_VALUE}, key=len,
                        reverse=True):
        text = text.replace(value, MASKED)
    for shape in _SECRET_SHAPES:
        text = shape.sub(MASKED, text)
    return _SECRET_PAIR.sub(lambda m: m[1] + MASKED, text)


# ---- issues --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Occurrence:
    """One recognised error of a stage, attributed to the build and deployment that ran it."""

    error: Recognised
    at_ms: int
    function: str  # the function's logical id
    build: int | None
    deployment: str | None
    sample: str  # masked


@dataclass
class Issue:
    app: str
    stage: str
    id: str  # the fingerprint
    type: str
    title: str
    kind: str
    frame: Frame | None
    status: str = "open"
    first_seen: dict[str, Any] = field(default_factory=dict)  # at, build, deployment, function
    last_seen: str = ""
    count: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # build number (as text) -> occurrences
    samples: list[dict[str, Any]] = field(default_factory=list)
    status_changed_at: str | None = None
    status_changed_by: str | None = None
    regressed_at: str | None = None
    batches: list[str] = field(default_factory=list)  # the newest batches absorbed (at-least-once delivery)
    version: int | None = None  # the store's optimistic lock

    def view(self) -> dict[str, Any]:
        """The API's summary of an issue (``GET .../issues``)."""
        return {
            "id": self.id, "app": self.app, "stage": self.stage, "status": self.status, "type": self.type,
            "title": self.title, "kind": self.kind,
            "where": {"file": self.frame.file, "function": self.frame.function} if self.frame else None,
            "firstSeen": self.first_seen, "lastSeen": self.last_seen, "count": self.count,
            "newInBuild": self.first_seen.get("build"), "statusChangedAt": self.status_changed_at,
            "statusChangedBy": self.status_changed_by, "regressedAt": self.regressed_at,
        }

    def detail(self) -> dict[str, Any]:
        """``GET .../issues/{id}``: the summary, counts per build (newest first) and the samples."""
        counts = [{"build": int(b), "count": n} for b, n in sorted(self.counts.items(), key=lambda kv: -int(kv[0]))]
        return {**self.view(), "countsByBuild": counts, "samples": list(self.samples)}


def iso_of(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def absorb(issue: Issue | None, app: str, stage: str, occurrences: list[Occurrence],
           batch: str | None = None) -> tuple[Issue, str | None]:
    """The issue after ``occurrences`` (all of one fingerprint, oldest first) of delivery ``batch``,
    and what happened to it: ``issue.new``, ``issue.regressed`` (a resolved issue seen again after
    it was resolved), or None. An ignored issue counts on, silently. A batch it absorbed already
    (CloudWatch Logs and Lambda deliver at least once) changes nothing: check ``absorbed`` first."""
    if not occurrences:
        raise ValueError("no occurrences to absorb")
    first = occurrences[0]
    event = None
    if issue is None:
        issue = Issue(app, stage, first.error.fingerprint, first.error.type, first.error.title, first.error.kind,
                      first.error.frame, first_seen={"at": iso_of(first.at_ms), "build": first.build,
                                                     "deployment": first.deployment, "function": first.function})
        event = "issue.new"
    latest = max(o.at_ms for o in occurrences)
    if issue.status == "resolved" and (issue.status_changed_at is None or iso_of(latest) > issue.status_changed_at):
        issue.status, issue.regressed_at = "regressed", iso_of(latest)
        event = "issue.regressed"
    issue.count += len(occurrences)
    for o in occurrences:
        if o.build is not None:
            issue.counts[str(o.build)] = issue.counts.get(str(o.build), 0) + 1
    if len(issue.counts) > MAX_BUILDS_COUNTED:
        kept = sorted(issue.counts, key=int)[-MAX_BUILDS_COUNTED:]
        issue.counts = {b: issue.counts[b] for b in kept}
    issue.last_seen = max(issue.last_seen, iso_of(latest))
    chosen = occurrences[-MAX_SAMPLES:] if issue.samples else occurrences[:1] + occurrences[1:][-(MAX_SAMPLES - 1):]
    fresh = [{"at": iso_of(o.at_ms), "function": o.function, "build": o.build, "message": o.sample} for o in chosen]
    samples = issue.samples + fresh
    issue.samples = samples[:1] + samples[1:][-(MAX_SAMPLES - 1):] if samples else []
    if batch is not None:
        issue.batches = [*issue.batches, batch][-MAX_RECENT_BATCHES:]
    return issue, event


def absorbed(issue: Issue | None, batch: str | None) -> bool:
    """Whether ``issue`` counted delivery ``batch`` already."""
    return issue is not None and batch is not None and batch in issue.batches


def overflow(error: Recognised) -> Recognised:
    """Where an occurrence goes when its stage holds ``MAX_ISSUES_PER_STAGE`` issues already."""
    return Recognised(OVERFLOW_TYPE, f"more than {MAX_ISSUES_PER_STAGE} distinct errors on this stage: the others "
                      "are counted here", None, "overflow")


OVERFLOW_FINGERPRINT = overflow(Recognised("", "", None, "")).fingerprint


def parse_status(value: Any) -> str:
    """The status a ``PATCH .../issues/{id}`` sets; InvalidInput names ``status``."""
    from sprout.domain.errors import InvalidInput, shown

    if value not in SETTABLE:
        raise InvalidInput("status", f"must be one of {', '.join(SETTABLE)}, got {shown(value)}")
    return str(value)


def set_status(issue: Issue, status: str, at: str, by: str | None) -> Issue:
    issue.status, issue.status_changed_at, issue.status_changed_by = status, at, by
    return issue


def version_of_stream(stream: str) -> str | None:
    """The function version a Lambda log stream belongs to (``2026/12/07/[3]abc…`` -> ``3``; in a
    log group named by LoggingConfig, as Sprout names them, ``2026/12/07/notes-dev-Create-X[3]abc…``)."""
    m = re.match(r"^\d{4}/\d{2}/\d{2}/[\w.-]{0,140}\[([^\]]{1,20})\]", stream)
    return m[1] if m else None
