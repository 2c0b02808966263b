"""The local cloud's ``sam build`` step (Metadata: BuildMethod pythonX.Y), offline: dependencies
copied from this environment, laid out as sam build lays them out for a layer and for a function."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud.sam_build import SamBuildError, build_python_dependencies


def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "app.py").write_text("import packaging\n")
    (folder / "requirements.txt").write_text("packaging\n")
    return folder


def test_given_a_function_with_a_build_method_when_built_then_its_code_and_dependencies_share_the_root(tmp_path):
    # GIVEN a function's folder: its code and a requirements.txt naming an installed distribution
    built = build_python_dependencies(source(tmp_path), tmp_path / "build", layer=False)
    # THEN its code is kept (sam build copies it, then installs next to it)
    assert (built / "app.py").read_text() == "import packaging\n"
    assert (built / "packaging" / "__init__.py").is_file()
    assert not (built / "python").exists()


def test_given_a_layer_with_a_build_method_when_built_then_dependencies_go_under_python(tmp_path):
    built = build_python_dependencies(source(tmp_path), tmp_path / "build", layer=True)
    assert (built / "python" / "packaging" / "__init__.py").is_file()


def test_given_a_function_whose_code_changes_then_it_is_built_again(tmp_path):
    folder = source(tmp_path)
    first = build_python_dependencies(folder, tmp_path / "build", layer=False)
    (folder / "app.py").write_text("changed = True\n")
    second = build_python_dependencies(folder, tmp_path / "build", layer=False)
    assert first != second and (second / "app.py").read_text() == "changed = True\n"


def test_given_a_requirement_not_installed_here_then_the_build_names_it(tmp_path):
    folder = source(tmp_path)
    (folder / "requirements.txt").write_text("sprout-no-such-package==1.0\n")
    with pytest.raises(SamBuildError, match="sprout-no-such-package==1.0 is not installed"):
        build_python_dependencies(folder, tmp_path / "build", layer=False)
