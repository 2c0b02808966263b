"""What makes a restart quick without making it wrong: what a snapshot holds is counted while it is
pickled (kept in its header, printed by ``up`` without asking the services), and a stack ``up``
deploys is updated again only when what it is made from changed (``sam.fingerprint``)."""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path

import pytest

from localcloud.cloudformation import sam
from localcloud.persistence import snapshot

counting = importlib.import_module("localcloud.persistence.counts")  # the package exports a function of that name


class _Thing:
    def __init__(self, key: str):
        self.key = key


class _Special(_Thing):
    pass


@pytest.fixture
def kinds(monkeypatch):
    module = __name__
    monkeypatch.setattr(counting, "KINDS", (
        ("things", module, "_Thing", lambda t: t.key or None),
    ))
    monkeypatch.setattr(counting, "_class", lambda m, n: globals()[n])


def test_given_objects_of_a_counted_kind_when_pickled_then_each_distinct_one_is_counted_and_all_come_back(kinds):
    # GIVEN objects of a counted class (a subclass too), two with the same key, one that does not count
    state = {"a": _Thing("x"), "b": _Special("y"), "c": _Thing("x"), "d": _Thing("")}
    tally = counting.Tally()
    # WHEN pickled with the tally's reducers, chained with another reducer of the same class
    body = snapshot.dumps(state, tally.reducers({_Special: lambda obj: (_Special, ("y!",))}))
    # THEN distinct keys are counted once, and what was pickled comes back (the inner reducer kept)
    assert tally.counts == {"things": 2}
    back = pickle.loads(body)
    assert [type(v).__name__ for v in back.values()] == ["_Thing", "_Special", "_Thing", "_Thing"]
    assert back["b"].key == "y!" and back["a"].key == "x"


def test_given_a_header_when_its_counts_are_read_then_they_come_in_printing_order_and_old_headers_give_none():
    meta = {"counts": {"tables": 2, "stacks": 1, "unknown": 9, "items": "x"}}
    assert list(counting.counts(meta).items()) == [("stacks", 1), ("tables", 2)]
    assert counting.counts({"format": 1}) == {}


def test_given_a_counts_header_when_a_snapshot_is_written_then_reading_it_gives_them_back(tmp_path):
    snapshot.write(tmp_path, b"body", "5.2.5", {"counts": {"stacks": 3}})
    meta, body = snapshot.read(tmp_path, "5.2.5")
    assert body == b"body" and counting.counts(meta) == {"stacks": 3}


TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.13
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: machine.asl.json
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(e, c):\n    return 1\n")
    (tmp_path / "machine.asl.json").write_text('{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}')
    return tmp_path


def test_given_the_same_template_code_and_parameters_then_the_fingerprint_is_the_same(project):
    assert sam.fingerprint(TEMPLATE, project, {"P": "1"}) == sam.fingerprint(TEMPLATE, project, {"P": "1"})


@pytest.mark.parametrize("change", ["code", "new file", "definition", "parameter", "template", "exec bit"])
def test_given_anything_a_stack_is_made_from_changed_then_the_fingerprint_differs(project, change):
    before = sam.fingerprint(TEMPLATE, project, {"P": "1"})
    template, parameters = TEMPLATE, {"P": "1"}
    if change == "code":
        (project / "src" / "app.py").write_text("def handler(e, c):\n    return 2\n")
    elif change == "new file":
        (project / "src" / "more.py").write_text("")
    elif change == "definition":
        (project / "machine.asl.json").write_text('{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}')
    elif change == "parameter":
        parameters = {"P": "2"}
    elif change == "template":
        template = TEMPLATE.replace("python3.13", "python3.12")
    else:
        (project / "src" / "app.py").chmod(0o755)
    assert sam.fingerprint(template, project, parameters) != before


def test_given_compiled_files_beside_the_code_then_the_fingerprint_ignores_them_as_packaging_does(project):
    before = sam.fingerprint(TEMPLATE, project, {})
    (project / "src" / "__pycache__").mkdir()
    (project / "src" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    assert sam.fingerprint(TEMPLATE, project, {}) == before


def test_given_a_restart_that_ended_nothing_on_a_full_disk_when_settled_then_it_raises_without_leaving_a_file(
    tmp_path, monkeypatch
):
    # GIVEN a restored snapshot (counts known, nothing ended) and a disk that has no room left
    import errno
    import os

    from localcloud.persistence import Persistence, Restored

    persistence = Persistence(tmp_path)
    restored = Restored(written="2026-01-01T00:00:00Z", bytes=1000, counts={"stacks": 1})

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    # WHEN the start is settled
    with pytest.raises(OSError) as raised:
        persistence.settle_start(restored)
    # THEN it says the disk is full (up prints it in one line and exits 1), and leaves no probe behind
    assert raised.value.errno == errno.ENOSPC
    assert list((tmp_path / "state").iterdir()) == []


def test_given_a_restart_that_ended_nothing_when_settled_then_no_snapshot_is_written(tmp_path):
    from localcloud.persistence import Persistence, Restored

    persistence = Persistence(tmp_path)
    persistence.settle_start(Restored(written="2026-01-01T00:00:00Z", bytes=1000, counts={"stacks": 1}))
    assert persistence.saves == 0 and list((tmp_path / "state").iterdir()) == []
