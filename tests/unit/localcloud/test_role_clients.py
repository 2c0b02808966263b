"""The clients the local cloud's services act with a role's credentials through (Step Functions tasks,
EventBridge targets: localcloud.iam.role_clients.RoleClients): one per region, service and role
session, built from one session, never one per call."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from botocore.config import Config

from localcloud.iam import role_clients
from localcloud.iam.role_clients import RoleClients


@dataclass(frozen=True)
class Creds:
    access_key: str
    secret_key: str = "secret"
    token: str = "token"


class FakeSession:
    """Counts what it builds; a client is the arguments it was built with."""

    def __init__(self) -> None:
        self.built: list[dict] = []

    def client(self, service: str, **kwargs: object) -> dict:
        built = {"service": service, **kwargs}
        self.built.append(built)
        return built


def clients_with(sessions: list[FakeSession]) -> RoleClients:
    def new_session():
        sessions.append(FakeSession())
        return sessions[-1].client

    return RoleClients(new_session, Config(), lambda: "http://127.0.0.1:4566")


def test_given_the_same_role_session_when_tasks_ask_again_then_one_client_serves_them():
    # GIVEN task clients
    sessions: list[FakeSession] = []
    clients = clients_with(sessions)
    # WHEN three tasks of the same role ask for a Lambda client
    got = [clients.get("us-east-1", "lambda", Creds("AKIA1")) for _ in range(3)]
    # THEN one client was built, from one session, with the role's credentials and the cloud's endpoint
    assert len(sessions) == 1 and len(sessions[0].built) == 1
    assert got[0] is got[1] is got[2]
    assert got[0]["aws_access_key_id"] == "AKIA1" and got[0]["aws_session_token"] == "token"
    assert got[0]["endpoint_url"] == "http://127.0.0.1:4566" and got[0]["region_name"] == "us-east-1"


def test_given_another_role_service_region_or_rotated_credentials_then_each_gets_its_own_client():
    # GIVEN task clients with one client built
    sessions: list[FakeSession] = []
    clients = clients_with(sessions)
    first = clients.get("us-east-1", "lambda", Creds("AKIA1"))
    # WHEN another role, another service, another region and the same key with a new token ask
    others = [
        clients.get("us-east-1", "lambda", Creds("AKIA2")),
        clients.get("us-east-1", "sqs", Creds("AKIA1")),
        clients.get("eu-west-1", "lambda", Creds("AKIA1")),
        clients.get("us-east-1", "lambda", Creds("AKIA1", token="renewed")),
    ]
    # THEN none shares the first one's client (a task never calls with another role's credentials)
    assert all(o is not first for o in others)
    assert len({id(o) for o in others}) == 4
    assert [o["aws_access_key_id"] for o in others] == ["AKIA2", "AKIA1", "AKIA1", "AKIA1"]
    assert others[3]["aws_session_token"] == "renewed"
    assert len(sessions) == 1


def test_given_more_role_sessions_than_kept_then_the_oldest_client_is_forgotten(monkeypatch):
    # GIVEN task clients keeping at most two
    monkeypatch.setattr(role_clients, "MAX_CLIENTS", 2)
    sessions: list[FakeSession] = []
    clients = clients_with(sessions)
    a = clients.get("us-east-1", "lambda", Creds("A"))
    clients.get("us-east-1", "lambda", Creds("B"))
    # WHEN a third role session asks, and then the first again
    clients.get("us-east-1", "lambda", Creds("C"))
    again = clients.get("us-east-1", "lambda", Creds("A"))
    # THEN the first was forgotten and built anew
    assert again is not a and again == a
    assert len(sessions[0].built) == 4


def test_given_tasks_asking_at_once_then_one_client_is_built():
    # GIVEN task clients and eight threads released together
    sessions: list[FakeSession] = []
    clients = clients_with(sessions)
    start = threading.Barrier(8)
    got: list[object] = []

    def ask() -> None:
        start.wait()
        got.append(clients.get("us-east-1", "lambda", Creds("AKIA1")))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    # WHEN they all ask for the same client
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN one was built and all got it
    assert len(sessions) == 1 and len(sessions[0].built) == 1
    assert all(g is got[0] for g in got)
