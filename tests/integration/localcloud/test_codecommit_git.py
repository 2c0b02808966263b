"""CodeCommit on the local cloud: plain git clones and pushes, pushes emit AWS's events, and the
read calls answer from the real repository."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

ZERO = "0" * 40


# ---- helpers -----------------------------------------------------------------------------
class Git:
    """The machine's git, with a clean environment (no user or system config)."""

    def __init__(self, home: Path):
        home.mkdir(parents=True, exist_ok=True)
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Ada Lovelace",
            "GIT_AUTHOR_EMAIL": "ada@example.com",
            "GIT_COMMITTER_NAME": "Charles Babbage",
            "GIT_COMMITTER_EMAIL": "charles@example.com",
            "LC_ALL": "C",
        }

    def run(self, cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=120
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
        return proc

    def out(self, cwd: Path, *args: str) -> str:
        return self.run(cwd, *args).stdout.strip()

    def commit_all(self, cwd: Path, message: str) -> str:
        self.run(cwd, "add", "-A")
        self.run(cwd, "commit", "-q", "-m", message)
        return self.out(cwd, "rev-parse", "HEAD")


@pytest.fixture
def git(tmp_path) -> Git:
    return Git(tmp_path / "home")


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)


class EventWatch:
    """An EventBridge rule for one repository's state changes, with an SQS target (moto delivers)."""

    def __init__(self, cloud, repository: str, uid: str):
        self.sqs = cloud.client("sqs")
        self.queue = self.sqs.create_queue(QueueName=f"cc-events-{uid}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events = cloud.client("events")
        pattern = {
            "source": ["aws.codecommit"],
            "detail-type": ["CodeCommit Repository State Change"],
            "detail": {"repositoryName": [repository]},
        }
        events.put_rule(Name=f"cc-{uid}", EventPattern=json.dumps(pattern))
        events.put_targets(Rule=f"cc-{uid}", Targets=[{"Id": "queue", "Arn": arn}])

    def take(self, count: int, timeout: float = 10) -> list[dict]:
        got: list[dict] = []
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            answer = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in answer.get("Messages", []):
                got.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        return got

    def nothing_more(self, wait: float = 2) -> bool:
        return self.take(1, timeout=wait) == []


@pytest.fixture
def repo(cloud, uid, tmp_path, git):
    """A new CodeCommit repository, cloned (empty) into tmp_path/work, and a watch on its events."""
    name = f"repo-{uid}"
    meta = cloud.client("codecommit").create_repository(repositoryName=name)["repositoryMetadata"]
    git.run(tmp_path, "clone", "-q", meta["cloneUrlHttp"], "work")
    return {"name": name, "meta": meta, "work": tmp_path / "work", "events": EventWatch(cloud, name, uid)}


def error_code(call, **kwargs) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"], raised.value.response["ResponseMetadata"]["HTTPStatusCode"]


# ---- the git remote ----------------------------------------------------------------------
def test_given_a_new_repository_when_created_then_its_clone_url_is_the_local_git_remote(
    cloud, uid, tmp_path, git
):
    cc = cloud.client("codecommit")
    name = f"repo-{uid}"

    created = cc.create_repository(repositoryName=name, repositoryDescription="d")["repositoryMetadata"]
    fetched = cc.get_repository(repositoryName=name)["repositoryMetadata"]

    assert created["cloneUrlHttp"] == f"{cloud.endpoint}/v1/repos/{name}"
    assert fetched["cloneUrlHttp"] == created["cloneUrlHttp"]
    assert "defaultBranch" not in fetched  # nothing pushed yet
    cloned = git.run(tmp_path, "clone", created["cloneUrlHttp"], "empty")
    assert "empty repository" in cloned.stderr
    assert (tmp_path / "empty" / ".git").is_dir()
    assert (cloud.data_dir / "codecommit" / "repos" / f"{name}.git" / "HEAD").is_file()
    assert {"repositoryName": name, "repositoryId": created["repositoryId"]} in cc.list_repositories()[
        "repositories"
    ]


def test_given_an_unknown_repository_when_cloned_then_git_fails_with_not_found(cloud, uid, tmp_path, git):
    proc = git.run(tmp_path, "clone", f"{cloud.endpoint}/v1/repos/nope-{uid}", "x", check=False)

    assert proc.returncode != 0
    assert "not found" in proc.stderr.lower() or "404" in proc.stderr


def test_given_an_empty_clone_when_a_branch_is_pushed_then_reference_created_is_emitted(cloud, repo, git):
    work = repo["work"]
    write(work, {"README.md": "hello\n"})
    commit = git.commit_all(work, "first")

    git.run(work, "push", "-q", "origin", "HEAD:refs/heads/main")

    [event] = repo["events"].take(1)
    assert event["source"] == "aws.codecommit"
    assert event["detail-type"] == "CodeCommit Repository State Change"
    assert event["resources"] == [repo["meta"]["Arn"]]
    assert event["detail"] == {
        "event": "referenceCreated",
        "repositoryName": repo["name"],
        "repositoryId": repo["meta"]["repositoryId"],
        "referenceType": "branch",
        "referenceName": "main",
        "referenceFullName": "refs/heads/main",
        "commitId": commit,
        "callerUserArn": "arn:aws:iam::123456789012:root",
    }
    meta = cloud.client("codecommit").get_repository(repositoryName=repo["name"])["repositoryMetadata"]
    assert meta["defaultBranch"] == "main"


def test_given_a_pushed_branch_when_pushed_again_then_reference_updated_carries_the_old_commit(
    cloud, repo, git
):
    work = repo["work"]
    write(work, {"a.txt": "1\n"})
    first = git.commit_all(work, "one")
    git.run(work, "push", "-q", "origin", "HEAD:refs/heads/main")
    write(work, {"a.txt": "2\n"})
    second = git.commit_all(work, "two")

    git.run(work, "push", "-q", "origin", "HEAD:refs/heads/main")

    created, updated = repo["events"].take(2)
    assert created["detail"]["event"] == "referenceCreated"
    assert updated["detail"]["event"] == "referenceUpdated"
    assert updated["detail"]["commitId"] == second
    assert updated["detail"]["oldCommitId"] == first
    assert updated["detail"]["referenceFullName"] == "refs/heads/main"


def test_given_a_branch_when_deleted_by_push_then_reference_deleted_carries_its_last_commit(cloud, repo, git):
    work = repo["work"]
    write(work, {"a.txt": "1\n"})
    commit = git.commit_all(work, "one")
    git.run(work, "push", "-q", "origin", "HEAD:refs/heads/main", "HEAD:refs/heads/feature")
    assert len(repo["events"].take(2)) == 2

    git.run(work, "push", "-q", "origin", "--delete", "feature")

    [event] = repo["events"].take(1)
    assert event["detail"]["event"] == "referenceDeleted"
    assert event["detail"]["referenceName"] == "feature"
    assert event["detail"]["oldCommitId"] == commit
    assert "commitId" not in event["detail"]
    assert cloud.client("codecommit").list_branches(repositoryName=repo["name"])["branches"] == ["main"]


def test_given_a_commit_when_a_tag_is_pushed_then_a_tag_reference_is_created(cloud, repo, git):
    work = repo["work"]
    write(work, {"a.txt": "1\n"})
    commit = git.commit_all(work, "one")
    git.run(work, "push", "-q", "origin", "HEAD:refs/heads/main")
    repo["events"].take(1)
    git.run(work, "tag", "v1.0.0")

    git.run(work, "push", "-q", "origin", "refs/tags/v1.0.0")

    [event] = repo["events"].take(1)
    assert event["detail"]["event"] == "referenceCreated"
    assert event["detail"]["referenceType"] == "tag"
    assert event["detail"]["referenceName"] == "v1.0.0"
    assert event["detail"]["referenceFullName"] == "refs/tags/v1.0.0"
    assert event["detail"]["commitId"] == commit


def test_given_a_pushed_branch_when_a_non_fast_forward_is_forced_then_it_is_refused_without_an_event(
    cloud, repo, git
):
    work = repo["work"]
    write(work, {"a.txt": "1\n"})
    git.commit_all(work, "one")
    write(work, {"a.txt": "2\n"})
    pushed = git.commit_all(work, "two")
    git.run(work, "push", "-q", "origin", "HEAD:refs/heads/main")
    repo["events"].take(1)
    git.run(work, "reset", "-q", "--hard", "HEAD~1")
    write(work, {"b.txt": "diverged\n"})
    git.commit_all(work, "diverged")

    proc = git.run(work, "push", "--force", "origin", "HEAD:refs/heads/main", check=False)

    assert proc.returncode != 0
    assert "non-fast-forward" in proc.stderr
    assert repo["events"].nothing_more()
    branch = cloud.client("codecommit").get_branch(repositoryName=repo["name"], branchName="main")["branch"]
    assert branch["commitId"] == pushed


def test_given_a_few_megabytes_of_random_files_when_pushed_then_a_fresh_clone_has_them(
    cloud, repo, git, tmp_path
):
    work = repo["work"]
    files = {f"data/blob-{i}.bin": os.urandom(1024 * 1024) for i in range(5)}
    write(work, files)
    commit = git.commit_all(work, "big")

    git.run(work, "push", "-q", "origin", "HEAD:refs/heads/main")

    [event] = repo["events"].take(1)
    assert event["detail"]["commitId"] == commit
    git.run(tmp_path, "clone", "-q", repo["meta"]["cloneUrlHttp"], "again")
    for rel, content in files.items():
        assert (tmp_path / "again" / rel).read_bytes() == content


def test_given_a_repository_when_deleted_then_its_git_remote_is_gone(cloud, repo, git, tmp_path):
    cc = cloud.client("codecommit")

    cc.delete_repository(repositoryName=repo["name"])

    assert not (cloud.data_dir / "codecommit" / "repos" / f"{repo['name']}.git").exists()
    assert git.run(tmp_path, "clone", repo["meta"]["cloneUrlHttp"], "gone", check=False).returncode != 0


# ---- the read calls ----------------------------------------------------------------------
@pytest.fixture
def history(cloud, repo, git):
    """Two pushed commits: the second modifies, deletes and adds files."""
    work = repo["work"]
    write(
        work,
        {
            "README.md": "# demo\n",
            "src/app.py": "print('v1')\n",
            "src/old.py": "x = 1\n",
            "tool.sh": "#!/bin/sh\n",
        },
    )
    (work / "tool.sh").chmod(0o755)
    os.symlink("README.md", work / "link.md")
    first = git.commit_all(work, "first commit\n\nwith a body")
    write(work, {"src/app.py": "print('v2')\n", "src/pkg/new.py": "y = 2\n", "docs/guide.md": "guide\n"})
    (work / "src" / "old.py").unlink()
    second = git.commit_all(work, "second")
    git.run(work, "push", "-q", "origin", "HEAD:refs/heads/main")
    return {**repo, "first": first, "second": second, "cc": cloud.client("codecommit")}


def _raw_diff(git: Git, work: Path, before: str, after: str) -> set[tuple]:
    out = git.out(work, "diff-tree", "-r", "--no-renames", "--raw", before, after)
    rows = set()
    for line in out.splitlines():
        meta, path = line.split("\t")
        old_mode, new_mode, old, new, status = meta[1:].split()
        rows.add((status, path, old if status != "A" else None, new if status != "D" else None))
    return rows


def _api_diff(differences: list[dict]) -> set[tuple]:
    return {
        (
            d["changeType"],
            (d.get("afterBlob") or d.get("beforeBlob"))["path"],
            d.get("beforeBlob", {}).get("blobId"),
            d.get("afterBlob", {}).get("blobId"),
        )
        for d in differences
    }


def test_given_pushed_commits_when_get_branch_and_get_commit_then_they_match_git(history, git):
    cc, work, name = history["cc"], history["work"], history["name"]

    branch = cc.get_branch(repositoryName=name, branchName="main")["branch"]
    commit = cc.get_commit(repositoryName=name, commitId=history["second"])["commit"]
    first = cc.get_commit(repositoryName=name, commitId=history["first"])["commit"]

    assert branch == {"branchName": "main", "commitId": history["second"]}
    assert commit["commitId"] == history["second"]
    assert commit["treeId"] == git.out(work, "rev-parse", "HEAD^{tree}")
    assert commit["parents"] == [history["first"]]
    assert first["parents"] == []
    assert first["message"].rstrip("\n") == git.out(work, "log", "-1", "--format=%B", history["first"])
    author = git.out(
        work, "log", "-1", "--date=raw", "--format=%an|%ae|%ad|%cn|%ce|%cd", history["second"]
    ).split("|")
    assert commit["author"] == {"name": author[0], "email": author[1], "date": author[2]}
    assert commit["committer"] == {"name": author[3], "email": author[4], "date": author[5]}
    assert cc.list_branches(repositoryName=name)["branches"] == ["main"]


def test_given_two_commits_when_get_differences_then_changes_match_git_with_paths_and_pages(history, git):
    cc, work, name = history["cc"], history["work"], history["name"]

    between = cc.get_differences(
        repositoryName=name, beforeCommitSpecifier=history["first"], afterCommitSpecifier="main"
    )["differences"]
    from_none = cc.get_differences(repositoryName=name, afterCommitSpecifier=history["first"])["differences"]
    in_src = cc.get_differences(
        repositoryName=name,
        beforeCommitSpecifier=history["first"],
        afterCommitSpecifier=history["second"],
        afterPath="src",
    )["differences"]
    pages, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = cc.get_differences(
            repositoryName=name,
            beforeCommitSpecifier=history["first"],
            afterCommitSpecifier="main",
            MaxResults=2,
            **kwargs,
        )
        pages.append(page["differences"])
        token = page.get("NextToken")
        if not token:
            break

    assert _api_diff(between) == _raw_diff(git, work, history["first"], history["second"])
    assert {d["changeType"] for d in between} == {"A", "M", "D"}
    modified = next(d for d in between if d["changeType"] == "M")
    assert modified["beforeBlob"]["path"] == modified["afterBlob"]["path"] == "src/app.py"
    assert modified["afterBlob"]["mode"] == "100644"
    listed = git.out(work, "ls-tree", "-r", "--format=%(objectname) %(path)", history["first"]).splitlines()
    assert {(d["afterBlob"]["blobId"], d["afterBlob"]["path"]) for d in from_none} == {
        tuple(line.split(" ", 1)) for line in listed
    }
    assert {d["changeType"] for d in from_none} == {"A"}
    assert {(d.get("afterBlob") or d["beforeBlob"])["path"] for d in in_src} == {
        "src/app.py",
        "src/old.py",
        "src/pkg/new.py",
    }
    assert len(between) == 4
    assert [len(p) for p in pages] == [2, 2]
    assert _api_diff([d for p in pages for d in p]) == _api_diff(between)


def test_given_a_commit_when_get_folder_then_entries_match_git(history, git):
    cc, work, name = history["cc"], history["work"], history["name"]

    root = cc.get_folder(repositoryName=name, folderPath="/", commitSpecifier="main")
    src = cc.get_folder(repositoryName=name, folderPath="src", commitSpecifier=history["second"])
    old_src = cc.get_folder(repositoryName=name, folderPath="/src/", commitSpecifier=history["first"])
    default = cc.get_folder(repositoryName=name, folderPath="")

    assert root["commitId"] == history["second"]
    assert root["treeId"] == git.out(work, "rev-parse", "HEAD^{tree}")
    assert {f["relativePath"]: f["fileMode"] for f in root["files"]} == {
        "README.md": "NORMAL",
        "tool.sh": "EXECUTABLE",
    }
    assert [(s["relativePath"], s["fileMode"]) for s in root["symbolicLinks"]] == [("link.md", "SYMLINK")]
    assert {s["absolutePath"] for s in root["subFolders"]} == {"docs", "src"}
    readme = next(f for f in root["files"] if f["relativePath"] == "README.md")
    assert readme["blobId"] == git.out(work, "rev-parse", "HEAD:README.md")
    assert src["treeId"] == git.out(work, "rev-parse", "HEAD:src")
    assert [f["absolutePath"] for f in src["files"]] == ["src/app.py"]
    assert [(s["absolutePath"], s["relativePath"]) for s in src["subFolders"]] == [("src/pkg", "pkg")]
    assert src["subFolders"][0]["treeId"] == git.out(work, "rev-parse", "HEAD:src/pkg")
    assert sorted(f["relativePath"] for f in old_src["files"]) == ["app.py", "old.py"]
    assert default["commitId"] == history["second"]


def test_given_a_commit_when_get_file_and_get_blob_then_content_and_ids_match_git(history, git):
    cc, work, name = history["cc"], history["work"], history["name"]

    app = cc.get_file(repositoryName=name, filePath="src/app.py", commitSpecifier=history["first"])
    tool = cc.get_file(repositoryName=name, filePath="/tool.sh")
    blob = cc.get_blob(repositoryName=name, blobId=app["blobId"])

    assert app["fileContent"] == b"print('v1')\n"
    assert app["blobId"] == git.out(work, "rev-parse", f"{history['first']}:src/app.py")
    assert app["commitId"] == history["first"]
    assert app["fileSize"] == len(b"print('v1')\n")
    assert app["fileMode"] == "NORMAL"
    assert tool["fileMode"] == "EXECUTABLE"
    assert tool["filePath"] == "tool.sh"
    assert tool["commitId"] == history["second"]
    assert blob["content"] == b"print('v1')\n"


def test_given_unknown_names_when_read_then_the_named_exceptions_come_back(history, uid):
    cc, name, first = history["cc"], history["name"], history["first"]
    missing_repo = f"missing-{uid}"

    assert error_code(cc.get_branch, repositoryName=missing_repo, branchName="main") == (
        "RepositoryDoesNotExistException",
        400,
    )
    assert (
        error_code(cc.get_file, repositoryName=missing_repo, filePath="a")[0]
        == "RepositoryDoesNotExistException"
    )
    assert error_code(cc.get_branch, repositoryName=name, branchName="nope") == (
        "BranchDoesNotExistException",
        400,
    )
    assert (
        error_code(cc.get_commit, repositoryName=name, commitId="1" * 40)[0]
        == "CommitIdDoesNotExistException"
    )
    assert error_code(cc.get_commit, repositoryName=name, commitId="abc")[0] == "InvalidCommitIdException"
    assert error_code(cc.get_file, repositoryName=name, filePath="README.md", commitSpecifier="nope")[0] == (
        "CommitDoesNotExistException"
    )
    assert error_code(cc.get_differences, repositoryName=name, afterCommitSpecifier="2" * 40)[0] == (
        "CommitDoesNotExistException"
    )
    assert error_code(cc.get_file, repositoryName=name, filePath="nope.txt")[0] == "FileDoesNotExistException"
    assert error_code(cc.get_file, repositoryName=name, filePath="src")[0] == "FileDoesNotExistException"
    assert error_code(cc.get_folder, repositoryName=name, folderPath="nope", commitSpecifier=first)[0] == (
        "FolderDoesNotExistException"
    )
    assert (
        error_code(cc.get_folder, repositoryName=name, folderPath="README.md")[0]
        == "FolderDoesNotExistException"
    )
    assert error_code(cc.get_blob, repositoryName=name, blobId="3" * 40)[0] == "BlobIdDoesNotExistException"
    assert (
        error_code(cc.get_differences, repositoryName=name, afterCommitSpecifier="main", afterPath="nowhere")[
            0
        ]
        == "PathDoesNotExistException"
    )


def test_given_a_long_local_history_when_fetching_then_the_gzipped_negotiation_is_served(
    cloud, repo, git, tmp_path
):
    work = repo["work"]
    write(work, {"a.txt": "base\n"})
    git.commit_all(work, "base")
    git.run(work, "push", "-q", "origin", "HEAD:refs/heads/main")
    git.run(tmp_path, "clone", "-q", repo["meta"]["cloneUrlHttp"], "other")
    other = tmp_path / "other"
    for i in range(150):  # many local commits the server lacks: a long list of "have" lines
        write(other, {"local.txt": f"{i}\n"})
        git.commit_all(other, f"local {i}")
    write(work, {"a.txt": "server\n"})
    server_commit = git.commit_all(work, "server side")
    git.run(work, "push", "-q", "origin", "HEAD:refs/heads/main")

    git.env["GIT_TRACE_CURL"] = "1"
    git.env["GIT_TRACE_CURL_NO_DATA"] = "1"
    fetched = git.run(other, "fetch", "origin")

    assert "Content-Encoding: gzip" in fetched.stderr
    assert git.out(other, "rev-parse", "origin/main") == server_commit
