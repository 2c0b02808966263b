"""Which interpreter runs a function: the declared version where the machine has it, else what it
has, with a notice. Fake interpreters are small executables that print a version, run for real."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from localcloud.lambda_runner import interpreters

OWN = ".".join(str(n) for n in sys.version_info[:2])
OWN_TAG = f"{sys.version_info[0]}{sys.version_info[1]}"
OTHER = "3.99"  # a version no machine has


def fake(path: Path, prints: str | None) -> Path:
    """An executable that prints ``prints`` (a version) or fails as a pyenv shim does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = f"echo {prints}" if prints else "echo 'pyenv: command not found' >&2; exit 127"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """An empty PATH and pyenv root the test fills."""
    bin_dir, pyenv = tmp_path / "bin", tmp_path / "pyenv"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("PYENV_ROOT", str(pyenv))
    monkeypatch.setenv("NVM_DIR", str(tmp_path / "nvm"))
    return bin_dir, pyenv


def test_given_the_declared_version_is_the_clouds_own_then_it_runs_there_without_notice(machine):
    found = interpreters.python_for(f"python{OWN}")
    assert (found.executable, found.exact, found.notice) == (interpreters.own_python(), True, None)


def test_given_the_declared_version_on_path_then_it_is_used(machine):
    bin_dir, _ = machine
    exe = fake(bin_dir / f"python{OTHER}", f"{OTHER}.4")
    found = interpreters.python_for(f"python{OTHER}")
    assert (found.executable, found.version, found.exact, found.notice) == (str(exe), f"{OTHER}.4", True, None)


def test_given_a_broken_shim_on_path_then_pyenvs_newest_install_is_used(machine):
    bin_dir, pyenv = machine
    fake(bin_dir / f"python{OTHER}", None)
    fake(pyenv / "versions" / f"{OTHER}.2" / "bin" / f"python{OTHER}", f"{OTHER}.2")
    newest = fake(pyenv / "versions" / f"{OTHER}.10" / "bin" / f"python{OTHER}", f"{OTHER}.10")
    found = interpreters.python_for(f"python{OTHER}")
    assert (found.executable, found.version, found.exact) == (str(newest), f"{OTHER}.10", True)


def test_given_no_such_version_then_the_clouds_own_runs_it_and_the_notice_says_both_versions(machine):
    found = interpreters.python_for(f"python{OTHER}")
    assert found.executable == interpreters.own_python() and not found.exact
    assert found.notice == (
        f"declares python{OTHER}, and this machine has no Python {OTHER}: it runs on Python "
        f"{'.'.join(str(n) for n in sys.version_info[:3])} ({interpreters.own_python()})"
    )


def test_given_code_compiled_for_the_clouds_own_python_only_then_that_version_runs_it_saying_why(machine, tmp_path):
    # GIVEN the declared version installed, but a layer whose modules are built for the cloud's own
    bin_dir, _ = machine
    fake(bin_dir / f"python{OTHER}", f"{OTHER}.1")
    layer = tmp_path / "layer" / "python" / "rpds"
    layer.mkdir(parents=True)
    (layer / f"rpds.cpython-{OWN_TAG}-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    (layer / "__pycache__").mkdir()
    (layer / "__pycache__" / f"x.cpython-{OTHER.replace('.', '')}.pyc").write_bytes(b"")  # a cache, not a build
    # WHEN the interpreter is chosen
    found = interpreters.python_for(f"python{OTHER}", code_dirs=(str(tmp_path / "layer"),))
    # THEN the cloud's own runs it, and the notice names the compiled module
    assert found.executable == interpreters.own_python() and not found.exact
    assert f"compiled for CPython {OWN} only" in found.notice and "rpds.cpython-" in found.notice


def test_given_node_of_another_major_then_it_runs_the_function_with_a_notice(machine):
    bin_dir, _ = machine
    node = fake(bin_dir / "node", "20.1.0")
    assert interpreters.node_for("nodejs20.x") == interpreters.Interpreter(str(node), "20.1.0", True)
    older = interpreters.node_for("nodejs18.x")
    assert (older.executable, older.exact) == (str(node), False)
    assert older.notice == f"declares nodejs18.x, and this machine has no Node.js 18: it runs on Node.js 20.1.0 ({node})"


def test_given_nvms_install_of_the_declared_major_then_it_is_used(machine, tmp_path):
    bin_dir, _ = machine
    fake(bin_dir / "node", "20.1.0")
    nvm_node = fake(tmp_path / "nvm" / "versions" / "node" / "v18.20.0" / "bin" / "node", "18.20.0")
    assert interpreters.node_for("nodejs18.x").executable == str(nvm_node)


def test_given_no_node_at_all_then_none(machine):
    assert interpreters.node_for("nodejs20.x") is None


def test_given_only_bytecode_caches_of_another_version_then_the_declared_version_runs_it(machine, tmp_path):
    bin_dir, _ = machine
    exe = fake(bin_dir / f"python{OTHER}", f"{OTHER}.1")
    cache = tmp_path / "code" / "__pycache__"
    cache.mkdir(parents=True)
    (cache / f"app.cpython-{OWN_TAG}.pyc").write_bytes(b"")
    found = interpreters.python_for(f"python{OTHER}", code_dirs=(str(tmp_path / "code"),))
    assert (found.executable, found.exact) == (str(exe), True)

