"""Adapters' AWS clients are made at their first call (sprout.adapters.clients): a function's cold
start builds only the clients it uses."""

from __future__ import annotations

import threading

import boto3

from sprout.adapters import clients
from sprout.adapters.executions import Executions


def test_given_an_adapter_built_when_nothing_is_called_then_no_client_is_made_and_the_first_call_makes_one(monkeypatch):
    # GIVEN boto3.client counted
    made: list[str] = []
    real = boto3.client

    def counting(service, *args, **kwargs):
        made.append(service)
        return real(service, *args, region_name="us-east-1", **kwargs)

    monkeypatch.setattr(clients.boto3, "client", counting)
    # WHEN an adapter is built THEN no client is made
    executions = Executions()
    assert made == []
    # WHEN its client is used twice THEN one Step Functions client was made, with boto3's defaults
    assert executions._sfn.meta.service_model.service_name == "stepfunctions"
    assert executions._sfn.meta.region_name == "us-east-1"
    assert made == ["stepfunctions"]


def test_given_threads_using_one_lazy_client_at_once_then_it_is_made_once(monkeypatch):
    made: list[str] = []
    monkeypatch.setattr(clients.boto3, "client", lambda service: made.append(service) or object())
    client = clients.lazy_client("logs")
    start = threading.Barrier(8)

    def use() -> None:
        start.wait()
        try:
            _ = client.anything  # the object() stands for a client: it has no such attribute
        except AttributeError:
            pass

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert made == ["logs"]
