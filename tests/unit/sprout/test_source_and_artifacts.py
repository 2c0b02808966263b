"""The CodeCommit source reader (against an in-memory CodeCommit: moto has no GetFolder/GetBlob)
and the S3 artifact store (against moto's in-process S3)."""

from __future__ import annotations

import hashlib
import posixpath
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sprout.adapters.artifacts import ArtifactStore
from sprout.adapters.source import CodeCommitSource, commit_info, resolve_branch
from sprout.domain.errors import ArtifactNotFound, InvalidInput, PackagingError, SourceError
from sprout.domain.packaging import package
from sprout.domain.source_tree import MemoryTree

COMMIT = "c0ffee" + "0" * 34


class FakeCodeCommit:
    """One repository at one commit, answering the read calls as CodeCommit documents them."""

    def __init__(self, repository: str, files: dict[str, bytes], modes: dict[str, str] | None = None):
        self.repository = repository
        self.files = files
        self.modes = modes or {}
        self.blobs = {hashlib.sha1(data).hexdigest(): data for data in files.values()}
        self.calls: list[str] = []

    def _error(self, code: str, operation: str):
        return ClientError({"Error": {"Code": code, "Message": f"{code} (fake)"}}, operation)

    def _check(self, repositoryName, commitSpecifier, operation):
        if repositoryName != self.repository:
            raise self._error("RepositoryDoesNotExistException", operation)
        if commitSpecifier != COMMIT:
            raise self._error("CommitDoesNotExistException", operation)

    def get_folder(self, repositoryName, commitSpecifier, folderPath):
        self.calls.append(f"GetFolder {folderPath}")
        self._check(repositoryName, commitSpecifier, "GetFolder")
        folder = folderPath.strip("/")
        prefix = folder + "/" if folder else ""
        inside = [p for p in self.files if p.startswith(prefix)]
        if folder and not inside:
            raise self._error("FolderDoesNotExistException", "GetFolder")
        files, subfolders = [], set()
        for path in inside:
            rest = path[len(prefix):]
            if "/" in rest:
                subfolders.add(rest.split("/")[0])
            else:
                files.append({
                    "blobId": hashlib.sha1(self.files[path]).hexdigest(),
                    "absolutePath": path,
                    "relativePath": rest,
                    "fileMode": self.modes.get(path, "NORMAL"),
                })
        return {
            "commitId": COMMIT,
            "folderPath": folderPath,
            "files": files,
            "subFolders": [{"absolutePath": posixpath.join(folder, s), "relativePath": s, "treeId": "t"} for s in sorted(subfolders)],
            "symbolicLinks": [],
            "subModules": [],
        }

    def get_blob(self, repositoryName, blobId):
        self.calls.append("GetBlob")
        return {"content": self.blobs[blobId]}

    def get_file(self, repositoryName, commitSpecifier, filePath):
        self.calls.append(f"GetFile {filePath}")
        self._check(repositoryName, commitSpecifier, "GetFile")
        path = filePath.lstrip("/")
        if path not in self.files:
            raise self._error("FileDoesNotExistException", "GetFile")
        return {"fileContent": self.files[path], "fileMode": self.modes.get(path, "NORMAL"), "filePath": path}

    def get_commit(self, repositoryName, commitId):
        self._check(repositoryName, commitId, "GetCommit")
        return {"commit": {
            "commitId": COMMIT,
            "message": "Broken create handler\n",
            "author": {"name": "Ana", "email": "ana@example.com", "date": "1484167798 -0800"},
        }}

    def get_branch(self, repositoryName, branchName):
        if branchName != "main":
            raise self._error("BranchDoesNotExistException", "GetBranch")
        return {"branch": {"branchName": "main", "commitId": COMMIT}}


TEMPLATE = b"""Transform: AWS::Serverless-2016-10-31
Resources:
  Create:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/create, Handler: app.main, Runtime: python3.13}
"""
FILES = {
    "template.yaml": TEMPLATE,
    "src/create/app.py": b"gibberish.what;\ndef main(e, c): pass\n",
    "src/create/lib/run.sh": b"#!/bin/sh\n",
    "src/create/lib/deep/x.txt": b"x",
    "README.md": b"hi",
}
MODES = {"src/create/lib/run.sh": "EXECUTABLE"}


@pytest.fixture
def codecommit():
    return FakeCodeCommit("notes", FILES, MODES)


def test_given_a_commit_when_a_folder_is_listed_then_every_file_under_it_comes_back(codecommit):
    source = CodeCommitSource("notes", COMMIT, client=codecommit)
    assert sorted(source.list_files("src/create")) == ["src/create/app.py", "src/create/lib/deep/x.txt", "src/create/lib/run.sh"]
    assert sorted(source.list_files("")) == sorted(FILES)
    assert source.list_files("nowhere") == []
    assert source.is_executable("src/create/lib/run.sh") and not source.is_executable("src/create/app.py")


def test_given_a_commit_when_files_are_read_then_bytes_or_none(codecommit):
    source = CodeCommitSource("notes", COMMIT, client=codecommit)
    assert source.read("template.yaml") == TEMPLATE
    assert source.read("/README.md") == b"hi"
    assert source.read("missing.txt") is None


def test_given_a_commit_when_packaged_through_codecommit_then_it_equals_packaging_the_same_files_in_memory(codecommit):
    source = CodeCommitSource("notes", COMMIT, client=codecommit)
    through_api = package(source.read("template.yaml"), "template.yaml", source, "bucket")
    in_memory = package(TEMPLATE.decode(), "template.yaml", MemoryTree(FILES, MODES), "bucket")

    assert through_api.artifacts == in_memory.artifacts
    assert through_api.functions == in_memory.functions
    assert "GetBlob" in codecommit.calls  # listed files are read by blob id


def test_given_no_template_at_the_commit_then_packaging_names_the_commit_and_repository(codecommit):
    source = CodeCommitSource("notes", COMMIT, client=codecommit)
    with pytest.raises(PackagingError, match=f"sam/template.yaml not found at commit {COMMIT} of repository notes"):
        package(source.read("sam/template.yaml"), "sam/template.yaml", source, "bucket")


def test_given_a_missing_repository_or_commit_then_source_error_names_them(codecommit):
    with pytest.raises(SourceError, match="cannot list src at commit .* of repository ghost: RepositoryDoesNotExistException"):
        CodeCommitSource("ghost", COMMIT, client=codecommit).list_files("src")
    with pytest.raises(SourceError, match="cannot read template.yaml at commit deadbeef of repository notes: CommitDoesNotExist"):
        CodeCommitSource("notes", "deadbeef", client=codecommit).read("template.yaml")


def test_given_a_commit_then_its_info_and_the_branch_tip_come_back(codecommit):
    assert commit_info("notes", COMMIT, client=codecommit) == {
        "message": "Broken create handler",
        "author": "Ana",
        "email": "ana@example.com",
        "date": "2017-01-11T20:49:58Z",
    }
    assert resolve_branch("notes", "main", client=codecommit) == COMMIT
    with pytest.raises(SourceError, match="cannot resolve branch gone of repository notes: BranchDoesNotExist"):
        resolve_branch("notes", "gone", client=codecommit)
    with pytest.raises(SourceError, match="cannot read commit deadbeef of repository notes"):
        commit_info("notes", "deadbeef", client=codecommit)


# ---- artifacts ---------------------------------------------------------------------------------


@pytest.fixture
def store(monkeypatch):
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        bucket = f"artifacts-{uuid.uuid4().hex[:8]}"
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=bucket)
        yield ArtifactStore(bucket), s3


def test_given_a_new_artifact_then_it_is_uploaded_once_by_its_hash(store):
    artifacts, s3 = store
    data = b"PK\x03\x04 a zip"
    sha = hashlib.sha256(data).hexdigest()

    assert artifacts.put_if_absent(sha, data) is True
    assert artifacts.put_if_absent(sha, data) is False
    body = s3.get_object(Bucket=artifacts.bucket, Key=f"artifacts/{sha}.zip")["Body"].read()
    assert body == data
    versions = s3.list_objects_v2(Bucket=artifacts.bucket, Prefix="artifacts/")["KeyCount"]
    assert versions == 1


def test_given_data_that_does_not_match_its_hash_then_nothing_is_stored(store):
    artifacts, s3 = store
    with pytest.raises(InvalidInput, match="sha256"):
        artifacts.put_if_absent("0" * 64, b"other bytes")
    assert s3.list_objects_v2(Bucket=artifacts.bucket)["KeyCount"] == 0


def test_given_a_packaged_template_then_it_reads_back_by_its_key(store):
    artifacts, _ = store
    key = artifacts.put_template("notes", 7, "Resources: {}\n")
    assert key == "templates/notes/0000000007/template.yaml"
    assert artifacts.get_template(key) == "Resources: {}\n"
    with pytest.raises(ArtifactNotFound, match="templates/notes/0000000008/template.yaml"):
        artifacts.get_template("templates/notes/0000000008/template.yaml")
