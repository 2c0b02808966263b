"""Arming the local cloud's faults (localcloud/faults.py) from a test: ``with armed(cloud, kind=...)``
clears the fault however the test ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests


def _url(cloud, fault_id: str = "") -> str:
    return f"{cloud.endpoint}/_localcloud/faults" + (f"/{fault_id}" if fault_id else "")


def arm(cloud, **spec) -> dict:
    answer = requests.post(_url(cloud), json=spec, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()


def clear(cloud, fault: dict) -> None:
    requests.delete(_url(cloud, fault["id"]), timeout=10).raise_for_status()


def state(cloud, fault: dict) -> dict | None:
    """The fault as the cloud sees it now (``seen``, ``done``), or None once cleared."""
    found = requests.get(_url(cloud), timeout=10).json()["faults"]
    return next((f for f in found if f["id"] == fault["id"]), None)


@contextmanager
def armed(cloud, **spec) -> Iterator[dict]:
    fault = arm(cloud, **spec)
    try:
        yield fault
    finally:
        clear(cloud, fault)
