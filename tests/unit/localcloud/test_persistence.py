"""The snapshot file (written whole or not at all, refused when torn, corrupted or of another
version), what is pickled how, the data dir's lock, and which requests count as changes."""

from __future__ import annotations

import io
import threading
import weakref
from collections import defaultdict

import pytest

from localcloud.persistence import DataDirBusy, DataDirLock, blobs, changes_state, snapshot
from localcloud.persistence.snapshot import SnapshotRefused

MOTO = "5.2.5"


def test_given_a_snapshot_written_when_read_then_the_same_bytes_come_back_with_their_header(tmp_path):
    # GIVEN a snapshot written
    size = snapshot.write(tmp_path, b"state" * 100, MOTO)
    # WHEN it is read
    meta, body = snapshot.read(tmp_path, MOTO)
    # THEN the body is the same, and the header says who wrote it
    assert body == b"state" * 100
    assert (meta["format"], meta["moto"], meta["length"]) == (snapshot.FORMAT, MOTO, 500)
    assert size == (tmp_path / snapshot.NAME).stat().st_size
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary file left


def test_given_no_snapshot_when_read_then_none():
    assert snapshot.read(__import__("pathlib").Path("/nonexistent-localcloud"), MOTO) is None


def test_given_a_crash_mid_write_when_read_then_the_previous_snapshot_is_whole(tmp_path):
    # GIVEN a snapshot, then a crash while the next one was being written (its temporary file half written)
    snapshot.write(tmp_path, b"first", MOTO)
    (tmp_path / f".{snapshot.NAME}.1.2.tmp").write_bytes(snapshot.header(b"second" * 10, MOTO) + b"sec")
    # WHEN read
    _, body = snapshot.read(tmp_path, MOTO)
    # THEN the previous one is read, whole
    assert body == b"first"


@pytest.mark.parametrize("damage", ["truncated", "flipped", "garbage"])
def test_given_a_torn_or_corrupted_snapshot_when_read_then_it_is_refused_in_one_line(tmp_path, damage):
    # GIVEN a snapshot damaged on disk
    snapshot.write(tmp_path, b"x" * 1000, MOTO)
    path = tmp_path / snapshot.NAME
    raw = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(raw[:-10])
    elif damage == "flipped":
        path.write_bytes(raw[:-1] + b"y")
    else:
        path.write_bytes(b"\x00\x01 not a snapshot")
    # WHEN read THEN it is refused, in one line that says what to do
    with pytest.raises(SnapshotRefused) as refused:
        snapshot.read(tmp_path, MOTO)
    message = str(refused.value)
    assert "\n" not in message and str(path) in message and "reset" in message
    assert ("truncated or corrupted" in message) == (damage != "garbage")


def test_given_a_snapshot_of_another_version_when_read_then_it_is_refused_naming_who_wrote_it(tmp_path):
    # GIVEN a snapshot written with another moto
    snapshot.write(tmp_path, b"state", "5.0.0")
    # WHEN read by this one THEN it is refused, naming the version that wrote it and what to do
    with pytest.raises(SnapshotRefused) as refused:
        snapshot.read(tmp_path, MOTO)
    message = str(refused.value)
    assert "with moto 5.0.0" in message and f"moto {MOTO}" in message and "export" in message


class _Holder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rlock = threading.RLock()
        self.event = threading.Event()
        self.thread = threading.Thread(target=lambda: None)
        self.by_name: defaultdict = defaultdict(lambda: {})
        self.by_name["a"]["b"] = 1
        self.weak: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def test_given_state_holding_locks_threads_and_lambdas_when_pickled_then_it_loads_without_them():
    # GIVEN an object with locks, an event, a thread, a defaultdict of a lambda and a weak dict
    holder = _Holder()
    kept = _Holder()
    holder.weak["k"] = kept
    holder.lock.acquire()  # held when written: loaded as a new, free lock
    # WHEN pickled and loaded
    loaded = snapshot.loads(snapshot.dumps({"h": holder, "k": kept}))
    h = loaded["h"]
    # THEN the state is there, locks are new and free, the thread is gone
    assert h.by_name["a"] == {"b": 1} and h.by_name["new"] == {}
    assert h.lock.acquire(blocking=False) and h.rlock.acquire(blocking=False)
    assert h.thread is None
    assert h.weak["k"] is loaded["k"]


class _Big:
    pass


def test_given_a_reducer_when_pickled_then_it_writes_objects_of_that_type_its_own_way():
    body = snapshot.dumps([_Big(), 1], reducers={_Big: lambda obj: (str, ("small",))})
    assert snapshot.loads(body) == ["small", 1]


def test_given_a_data_dir_in_use_when_another_lock_is_taken_then_it_is_refused_naming_the_holder(tmp_path):
    # GIVEN one local cloud holding the data dir
    first = DataDirLock(tmp_path)
    first.acquire()
    try:
        # WHEN another takes it THEN it is refused, naming the process that holds it
        with pytest.raises(DataDirBusy) as busy:
            DataDirLock(tmp_path).acquire()
        assert "in use by another local cloud (pid " in str(busy.value)
    finally:
        first.release()
    # AND once released it can be taken again
    again = DataDirLock(tmp_path)
    again.acquire()
    again.release()


def _environ(method: str = "POST", target: str | None = None, query: str = "", form: str | None = None) -> dict:
    environ = {"REQUEST_METHOD": method, "QUERY_STRING": query, "wsgi.input": io.BytesIO()}
    if target:
        environ["HTTP_X_AMZ_TARGET"] = target
    if form is not None:
        environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded; charset=utf-8"
        environ["CONTENT_LENGTH"] = str(len(form))
        environ["wsgi.input"] = io.BytesIO(form.encode())
    return environ


@pytest.mark.parametrize(
    "environ, changes",
    [
        (_environ("GET"), False),
        (_environ("HEAD"), False),
        (_environ(target="DynamoDB_20120810.Query"), False),
        (_environ(target="DynamoDB_20120810.PutItem"), True),
        (_environ(target="AWSStepFunctions.DescribeExecution"), False),
        (_environ(target="AWSStepFunctions.StartExecution"), True),
        (_environ(query="Action=ListQueues"), False),
        (_environ(form="Action=DescribeAlarms&Version=2010-08-01"), False),
        (_environ(form="Action=PutMetricAlarm&AlarmName=a"), True),
        (_environ(form="Action=ReceiveMessage&QueueUrl=q"), True),  # in flight from now: a change
        (_environ("PUT"), True),  # S3 PutObject
        (_environ("POST"), True),  # Lambda Invoke (REST): its logs
    ],
)
def test_given_a_request_when_judged_then_only_sure_reads_are_not_changes(environ, changes):
    assert changes_state(environ) is changes


def test_given_a_form_request_when_its_action_is_peeked_then_moto_still_reads_the_whole_body():
    environ = _environ(form="Action=PutMetricAlarm&AlarmName=a")
    changes_state(environ)
    assert environ["wsgi.input"].read() == b"Action=PutMetricAlarm&AlarmName=a"


class _Code:
    def __init__(self, code: bytes, name: str):
        self.code, self.name, self.spec = code, name, {"ZipFile": "z" * blobs.THRESHOLD, "Handler": "app.handler"}


def test_given_large_values_when_pickled_with_blobs_then_they_are_kept_once_by_content_and_come_back(tmp_path):
    # GIVEN two objects holding the same large code, and a small one
    store = blobs.Blobs(tmp_path)
    big = b"c" * blobs.THRESHOLD
    objects = [_Code(big, "a"), _Code(bytes(big), "b"), _Code(b"small", "c")]
    # WHEN pickled with the blob store
    store.begin()
    body = snapshot.dumps(objects, reducers={_Code: lambda o: blobs.reduce_with_blobs(o, store)})
    store.durable()
    # THEN the large values are files of their own (one per content), not in the pickle
    assert len(list((tmp_path / "blobs").iterdir())) == 2 and len(body) < blobs.THRESHOLD
    # AND they come back whole
    with blobs.loading(store):
        loaded = snapshot.loads(body)
    assert [o.code for o in loaded] == [big, big, b"small"] and loaded[0].spec["ZipFile"] == "z" * blobs.THRESHOLD
    assert loaded[2].name == "c"
    # AND once a snapshot names only the small one (with its spec), the code's blob is deleted
    store.begin()
    snapshot.dumps([objects[2]], reducers={_Code: lambda o: blobs.reduce_with_blobs(o, store)})
    store.durable()
    store.collect_garbage()
    assert len(list((tmp_path / "blobs").iterdir())) == 1


@pytest.mark.parametrize("damage", ["missing", "corrupted"])
def test_given_a_blob_missing_or_corrupted_when_loaded_then_the_snapshot_is_refused(tmp_path, damage):
    store = blobs.Blobs(tmp_path)
    store.begin()
    body = snapshot.dumps([_Code(b"c" * blobs.THRESHOLD, "a")], reducers={_Code: lambda o: blobs.reduce_with_blobs(o, store)})
    for path in (tmp_path / "blobs").iterdir():
        if damage == "missing":
            path.unlink()
        else:
            path.write_bytes(b"d" * blobs.THRESHOLD)
    with pytest.raises(SnapshotRefused) as refused, blobs.loading(store):
        snapshot.loads(body)
    assert damage in str(refused.value)
