"""What ``up`` says about a data dir an earlier run left, and that creating a repository again
moves the old git data aside instead of deleting it."""

from __future__ import annotations

from localcloud import restarts
from localcloud.codecommit_git.gitrepo import GitStore


def test_given_a_new_or_empty_data_dir_then_there_is_no_earlier_run(tmp_path):
    assert restarts.earlier_run(tmp_path / "missing") is None
    assert restarts.earlier_run(tmp_path) is None


def test_given_a_data_dir_with_a_run_marker_and_repositories_then_the_warning_names_them(tmp_path):
    restarts.mark(tmp_path, "http://127.0.0.1:4566")
    store = GitStore(tmp_path / "codecommit")
    store.create("notes")
    store.create("api")

    found = restarts.earlier_run(tmp_path)

    assert found is not None and found.started and found.repositories == ["api", "notes"]
    line = found.warning()
    assert "\n" not in line
    assert f"{tmp_path} holds state from an earlier run (started {found.started}) that is not loaded" in line
    assert "git data of 2 CodeCommit repositories is kept on disk" in line and ": api, notes (in " in line


def test_given_repositories_without_a_marker_then_it_is_still_an_earlier_run(tmp_path):
    GitStore(tmp_path / "codecommit").create("old")
    found = restarts.earlier_run(tmp_path)
    assert found is not None and found.started is None and found.repositories == ["old"]
    assert "1 CodeCommit repository is kept" in found.warning()


def test_given_an_existing_repository_dir_when_created_again_then_it_is_new_and_the_old_one_moved_aside(tmp_path):
    store = GitStore(tmp_path)
    store.create("app")
    store.git_dir("app").joinpath("marker").write_text("old data")

    store.create("app")

    assert not store.git_dir("app").joinpath("marker").exists()
    [aside] = [p for p in store.repos.iterdir() if p.name.startswith("app.git.stale-")]
    assert aside.joinpath("marker").read_text() == "old data"
    assert store.exists("app")
