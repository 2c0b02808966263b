"""Issues, the pure part: errors recognised in real-looking log lines, fingerprints, masking, and
what occurrences do to an issue."""

from __future__ import annotations

import json

import pytest

from sprout.domain import issues
from sprout.domain.errors import InvalidInput
from sprout.domain.issues import MASKED, Frame, Occurrence, absorb, mask, normalise, recognise

PY_UNHANDLED = (
    "[ERROR] NameError: name 'gibberish' is not defined\n"
    "Traceback (most recent call last):\n"
    '  File "/var/task/create.py", line 3, in handler\n'
    "    gibberish.what\n"
)
PY_DEEP = (
    "Traceback (most recent call last):\n"
    '  File "/var/task/handlers/create.py", line 40, in handler\n'
    "    return save(note)\n"
    '  File "/var/task/store.py", line 12, in save\n'
    "    table.put_item(Item=note)\n"
    '  File "/opt/python/botocore/client.py", line 565, in _api_call\n'
    "    return self._make_api_call(operation_name, kwargs)\n"
    "botocore.exceptions.ClientError: An error occurred (ValidationException) when calling the PutItem operation: "
    "One or more parameter values were invalid\n"
)
POWERTOOLS = json.dumps({
    "level": "ERROR", "location": "handler:14", "message": "could not create the note",
    "timestamp": "2026-12-07 16:00:00,123+0000", "service": "notes",
    "exception": 'Traceback (most recent call last):\n  File "/var/task/create.py", line 12, in handler\n'
                 '    int(body["n"])\nValueError: invalid literal for int() with base 10: \'x\'',
    "exception_name": "ValueError", "xray_trace_id": "1-6575-abc",
})
POWERTOOLS_SERIALISED = json.dumps({
    "level": "ERROR", "message": "boom", "exception_name": "KeyError",
    "stack_trace": {"type": "KeyError", "value": "'id'", "module": "builtins",
                    "frames": [{"file": "/var/task/get.py", "line": 9, "function": "handler", "statement": "x['id']"}]},
})
NODE_INVOKE = (
    "2026-12-07T16:00:00.000Z\tc0ffee00-1111-2222-3333-444455556666\tERROR\tInvoke Error \t"
    + json.dumps({"errorType": "ReferenceError", "errorMessage": "gibberish is not defined",
                  "stack": ["ReferenceError: gibberish is not defined",
                            "    at Runtime.handler (file:///var/task/create.mjs:3:3)",
                            "    at Runtime.handleOnceNonStreaming (file:///var/runtime/index.mjs:1173:29)"]})
)
NODE_CONSOLE_STACK = (
    "2026-12-07T16:00:00.000Z\tc0ffee00-1111-2222-3333-444455556666\tERROR\tTypeError: Cannot read properties of "
    "undefined (reading 'id')\n    at getNote (/var/task/lib/notes.js:21:17)\n"
    "    at exports.handler (/var/task/get.js:5:10)\n    at /var/task/node_modules/x/index.js:1:1"
)
NODE_CONSOLE_TEXT = "2026-12-07T16:00:00.000Z\tc0ffee00-1111-2222-3333-444455556666\tERROR\tpayment 4411 failed for 'bob'"
LAMBDA_ERROR = json.dumps({"errorMessage": "division by zero", "errorType": "ZeroDivisionError", "requestId": "r1",
                           "stackTrace": ['  File "/var/task/calc.py", line 4, in handler\n    return 1 / 0\n']})


@pytest.mark.parametrize("line, kind, type_, frame", [
    (PY_UNHANDLED, "python", "NameError", Frame("create.py", "handler")),
    (PY_DEEP, "python", "botocore.exceptions.ClientError", Frame("store.py", "save")),
    (POWERTOOLS, "powertools", "ValueError", Frame("create.py", "handler")),
    (POWERTOOLS_SERIALISED, "powertools", "KeyError", Frame("get.py", "handler")),
    (NODE_INVOKE, "lambda", "ReferenceError", Frame("create.mjs", "Runtime.handler")),
    (NODE_CONSOLE_STACK, "node", "TypeError", Frame("lib/notes.js", "getNote")),
    (LAMBDA_ERROR, "lambda", "ZeroDivisionError", Frame("calc.py", "handler")),
])
def test_given_real_error_lines_when_recognised_then_type_and_innermost_app_frame_are_found(line, kind, type_, frame):
    """GIVEN an error line as a runtime or a logger writes it
    WHEN it is recognised
    THEN its type and the innermost frame of the app's own code (not botocore, not the runtime) are found"""
    found = recognise(line)
    assert found is not None
    assert (found.kind, found.type, found.frame) == (kind, type_, frame)


@pytest.mark.parametrize("line, type_, kind", [
    ("2026-12-07T16:00:03.012Z 9f1c Task timed out after 3.00 seconds", "Sandbox.Timedout", "timeout"),
    ("RequestId: 9f1c Error: Runtime exited with error: signal: killed\nRuntime.OutOfMemory", "Runtime.OutOfMemory", "oom"),
    ("RequestId: 9f1c Error: Runtime exited with error: exit status 1\nRuntime.ExitError", "Runtime.ExitError", "exit"),
    ("[ERROR] Runtime.ImportModuleError: Unable to import module 'create': No module named 'requests'",
     "Runtime.ImportModuleError", "python"),
    (NODE_CONSOLE_TEXT, "console.error", "console"),
    ("[ERROR]\t2026-12-07T16:00:00.000Z\tr1\tcould not reach the bank", "ERROR", "logged"),
    ('{"level": "ERROR", "message": "order 12 refused"}', "ERROR", "logged"),
    ("thread 'main' panicked at src/main.rs:4:5: index out of bounds", "UnrecognisedError", "unrecognised"),
])
def test_given_errors_without_an_app_frame_when_recognised_then_type_and_kind_name_them(line, type_, kind):
    """GIVEN time-outs, out-of-memory, runtime exits, logged errors, an unknown language's panic
    WHEN recognised
    THEN each is an error of the expected type, without a frame"""
    found = recognise(line)
    assert found is not None and (found.type, found.kind, found.frame) == (type_, kind, None)


@pytest.mark.parametrize("line", [
    "START RequestId: 1 Version: 3", "END RequestId: 1",
    "REPORT RequestId: 1\tDuration: 2.1 ms\tBilled Duration: 3 ms", '{"level": "INFO", "message": "created"}',
    "[INFO]\t2026-12-07T16:00:00.000Z\tr1\tcreated note 7", "", "{not json",
])
def test_given_ordinary_lines_when_recognised_then_none_is_an_error(line):
    """GIVEN lines of successful invocations
    WHEN recognised
    THEN none is taken for an error"""
    assert recognise(line) is None


def test_given_the_same_error_on_other_lines_and_builds_then_the_fingerprint_is_the_same_and_another_type_differs():
    """GIVEN the NameError raised from another line number (a later build) and a different error in the same place
    WHEN fingerprinted
    THEN the line number does not matter, the type does"""
    moved = recognise(PY_UNHANDLED.replace("line 3", "line 30"))
    other = recognise(PY_UNHANDLED.replace("NameError", "TypeError"))
    base = recognise(PY_UNHANDLED)
    assert base and moved and other
    assert base.fingerprint == moved.fingerprint != other.fingerprint
    assert base.title == "NameError in create.py:handler"


def test_given_frameless_errors_that_differ_only_in_ids_and_values_then_they_share_a_fingerprint():
    """GIVEN console.error lines differing in numbers, uuids and quoted values
    WHEN fingerprinted
    THEN they group into one"""
    a = recognise(NODE_CONSOLE_TEXT)
    b = recognise(NODE_CONSOLE_TEXT.replace("4411", "98").replace("'bob'", "'eve'").replace("c0ffee00", "deadbeef"))
    assert a and b and a.fingerprint == b.fingerprint
    assert normalise("user 42 'bob' id 0f3c2a1b9e8d7c6b at 2026-12-07T16:00:00Z") == "user <n> '<v>' id <id> at <time>"


def test_given_a_local_task_root_then_the_frame_is_the_file_name_so_builds_share_a_fingerprint():
    """GIVEN the same traceback from code unpacked under a version's own directory (two builds)
    WHEN recognised
    THEN the frame names the file, not the directory, and the fingerprints agree"""
    one = recognise(PY_UNHANDLED.replace("/var/task/", "/data/lambda/functions/n-dev-Create/3/ab12/"))
    two = recognise(PY_UNHANDLED.replace("/var/task/", "/data/lambda/functions/n-dev-Create/4/cd34/"))
    assert one and two and one.frame == Frame("create.py", "handler") and one.fingerprint == two.fingerprint


def test_given_hostile_lines_then_fields_are_bounded_and_a_256_kb_line_is_read_in_bounded_time():
    """GIVEN a 256 KB line and an exception type and message of 100 000 characters
    WHEN recognised
    THEN every field is cut to its bound"""
    huge = "[ERROR] " + "A" * 100_000 + ": " + "m" * 256 * 1024
    found = recognise(huge)
    assert found and len(found.type) <= issues.MAX_TYPE and len(found.message) <= issues.MAX_MESSAGE
    node = recognise("x\tr\tERROR\t" + "Error: " + "z" * 300_000 + "\n    at f (/var/task/a.js:1:1)")
    assert node and len(node.message) <= issues.MAX_MESSAGE


def test_given_secrets_in_a_sample_when_masked_then_env_values_and_secret_shapes_are_gone():
    """GIVEN a line holding an environment value, a password pair, an access key id, a bearer token
    WHEN masked
    THEN none of them remains and the sample is bounded"""
    line = ("connect postgres://app:hunter2-db@db failed password=s3cr3t AKIAABCDEFGHIJKLMNOP "
            "Authorization: Bearer abc.def-ghi token='tok_123'")
    masked = mask(line, ["hunter2-db", "dev"])
    for secret in ("hunter2-db", "s3cr3t", "AKIAABCDEFGHIJKLMNOP", "abc.def-ghi", "tok_123"):
        assert secret not in masked
    assert MASKED in masked and "connect postgres://app:" in masked
    assert len(mask("x" * 1_000_000)) <= issues.MAX_SAMPLE


def _occ(at_ms: int, build: int | None = 2, line: str = PY_UNHANDLED) -> Occurrence:
    error = recognise(line)
    assert error is not None
    return Occurrence(error, at_ms, "CreateNote", build, "000002" if build else None, mask(line))


def test_given_a_new_error_when_absorbed_then_it_is_new_in_its_build_with_counts_and_bounded_samples():
    """GIVEN 12 occurrences of one error in build 2
    WHEN absorbed into no issue
    THEN an open issue, new in build 2, counts 12, keeps 5 samples (the first one among them)"""
    issue, event = absorb(None, "notes", "dev", [_occ(1_000 + i) for i in range(12)])
    assert event == "issue.new" and issue.status == "open"
    assert issue.first_seen["build"] == 2 and issue.first_seen["deployment"] == "000002"
    assert issue.count == 12 and issue.counts == {"2": 12}
    assert len(issue.samples) == issues.MAX_SAMPLES and issue.samples[0]["at"] == issues.iso_of(1_000)
    assert issue.view()["newInBuild"] == 2


def test_given_a_resolved_issue_when_it_happens_again_then_it_regresses_once_and_an_ignored_one_stays_quiet():
    """GIVEN a resolved issue and an ignored one
    WHEN the error happens after the resolution (and, for the other, at all)
    THEN the first is regressed (told once), the second stays ignored and counts on"""
    issue, _ = absorb(None, "notes", "dev", [_occ(1_000)])
    issues.set_status(issue, "resolved", issues.iso_of(2_000), "alice")
    late, event = absorb(issue, "notes", "dev", [_occ(1_500)])  # delivered late: before the resolution
    assert event is None and late.status == "resolved"
    again, event = absorb(late, "notes", "dev", [_occ(3_000, build=3)])
    assert event == "issue.regressed" and again.status == "regressed" and again.counts == {"2": 2, "3": 1}
    _, event = absorb(again, "notes", "dev", [_occ(4_000, build=3)])
    assert event is None
    ignored, _ = absorb(None, "notes", "dev", [_occ(1_000)])
    issues.set_status(ignored, "ignored", issues.iso_of(2_000), "bob")
    after, event = absorb(ignored, "notes", "dev", [_occ(3_000)])
    assert event is None and after.status == "ignored" and after.count == 2


def test_given_many_builds_then_counts_per_build_keep_the_newest_and_the_total():
    """GIVEN occurrences in 80 builds
    WHEN absorbed
    THEN counts are kept for the newest 50 builds and the total counts all"""
    issue, _ = absorb(None, "n", "dev", [_occ(i, build=i) for i in range(1, 81)])
    assert len(issue.counts) == issues.MAX_BUILDS_COUNTED and "80" in issue.counts and "1" not in issue.counts
    assert issue.count == 80


def test_given_a_status_then_only_open_resolved_and_ignored_may_be_set():
    """GIVEN statuses a PATCH may carry
    WHEN parsed
    THEN regressed and anything else is a 400 naming status"""
    assert issues.parse_status("resolved") == "resolved"
    for bad in ("regressed", "", None, 3):
        with pytest.raises(InvalidInput, match="status"):
            issues.parse_status(bad)


def test_given_log_streams_then_the_version_is_read_from_them():
    """GIVEN Lambda log stream names
    WHEN read
    THEN the version in brackets is the function version ($LATEST included), else None"""
    assert issues.version_of_stream("2026/12/07/[3]0123abcd") == "3"
    assert issues.version_of_stream("2026/12/07/[$LATEST]0123abcd") == "$LATEST"
    assert issues.version_of_stream("2026/12/07/notes-dev-CreateNote-X1[3]0123abcd") == "3"  # a LoggingConfig group's stream
    assert issues.version_of_stream("forged") is None


def test_given_errors_cut_or_without_a_stack_then_they_are_still_errors():
    """GIVEN a Python traceback cut before its exception line (a line past the bound) and a bare Node.js
    "TypeError: ..." line without a stack
    WHEN recognised
    THEN the first is a PythonError at its innermost app frame, the second a TypeError without a frame"""
    cut = recognise("Traceback (most recent call last):\n" + '  File "/var/task/big.py", line 1, in handler\n' * 3)
    assert cut and (cut.type, cut.frame) == ("PythonError", Frame("big.py", "handler"))
    bare = recognise("TypeError: Cannot read properties of undefined (reading 'id')")
    assert bare and (bare.type, bare.frame, bare.kind) == ("TypeError", None, "node")


def test_given_pathological_lines_then_recognising_them_stays_bounded():
    """GIVEN lines built to make the frame patterns backtrack (long 'at' lines without positions,
    900-character file names, 60 000 quotes)
    WHEN recognised
    THEN each is answered (an error or None) with its fields bounded"""
    lines = [
        "TypeError: x\n" + ("    at " + "f" * 290 + " (" + "/x" * 400 + "\n") * 100,
        "Traceback (most recent call last):\n" + ('  File "' + "a" * 900 + '", line 1, in ' + "f" * 290 + "\n") * 60,
        "[ERROR] X: " + "'" * 60000,
    ]
    for line in lines:
        found = recognise(line)
        assert found is None or (len(found.type) <= issues.MAX_TYPE and len(found.message) <= issues.MAX_MESSAGE)
