"""The package's layout rules, read from the source (AST), and dvc.yaml's code
dependencies recomputed from the imports.

- data/, models/ and inference/ never import training/: a served model carries
  no training code;
- only __main__ and the stage scripts import serving/;
- each stage's code deps in dvc.yaml are exactly its script and the package
  modules it imports, directly or not, so `dvc repro` reruns a stage when (and
  only when) code it runs changed.
"""

from __future__ import annotations

import ast
import inspect
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO

PACKAGE = "sentiment_pipeline"
STAGES = ("validate", "download", "clean", "tokenize", "train", "evaluate", "plot")


def module_file(module: str) -> Path | None:
    """The file of a dotted module name inside this repository, if any."""
    base = REPO / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def imported_files(path: Path) -> frozenset[Path]:
    """Project files `path` imports (at module level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            targets = [node.module, *names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in (PACKAGE, "stages"):
                file = module_file(target)
                if file is not None:
                    found.add(file)
    return frozenset(found)


def closure(path: Path) -> set[Path]:
    seen, todo = set(), [path]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(imported_files(current))
    return seen


def package_modules() -> list[Path]:
    return sorted((REPO / PACKAGE).rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def test_there_are_no_relative_imports_to_hide_from_these_rules():
    relative = [
        rel(p)
        for p in package_modules()
        if any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(ast.parse(p.read_text())))
    ]
    assert relative == []


@pytest.mark.parametrize("room", ["data", "models", "inference"])
def test_data_models_and_inference_never_import_training(room):
    wrong = {
        rel(p): sorted(rel(f) for f in closure(p) if rel(f).startswith(f"{PACKAGE}/training/"))
        for p in (REPO / PACKAGE / room).rglob("*.py")
    }
    assert {k: v for k, v in wrong.items() if v} == {}


def test_only_main_and_the_stages_import_serving():
    serving, steps = f"{PACKAGE}/serving/", f"{PACKAGE}/steps/"  # steps/: the stages' work, on top
    wrong = {
        rel(p): sorted(rel(f) for f in imported_files(p) if rel(f).startswith(serving))
        for p in package_modules()
        if not rel(p).startswith((serving, steps)) and p.name != "__main__.py"
    }
    assert {k: v for k, v in wrong.items() if v} == {}


def test_subpackage_inits_hold_only_a_docstring():
    # so importing one room never drags another in (and dvc.yaml need not list them)
    for init in (REPO / PACKAGE).glob("*/__init__.py"):
        body = ast.parse(init.read_text()).body
        assert all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body), rel(init)


@pytest.mark.parametrize("stage", STAGES)
def test_dvc_yaml_code_deps_are_the_stage_import_closure(stage):
    deps = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"][stage]["deps"]
    listed = {d for d in deps if d.endswith(".py")}
    expected = {rel(f) for f in closure(REPO / "stages" / f"{stage}.py") if f.name != "__init__.py"}
    assert listed == expected, (
        f"dvc.yaml stage {stage!r}: add {sorted(expected - listed)}, remove {sorted(listed - expected)}"
    )


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_command_names_the_paths_its_script_takes(stage):
    # the paths travel in dvc.yaml's cmd (DVC's example-get-started), in the order and with the
    # defaults stages/<stage>.py declares, so `python -m stages.<stage>` alone means the same; those
    # that are no DVC dependency or output (checkpoints, timings) are left to their defaults
    import importlib

    script = importlib.import_module(f"stages.{stage}")
    spec = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"][stage]
    declared = {str(p) for key in ("deps", "outs", "metrics") for item in spec.get(key, []) for p in _paths(item)}
    named = [str(p) for p in script.PATHS.values() if str(p) in declared]
    assert spec["cmd"].split() == ["python", "-m", f"stages.{stage}", *named]
    assert named == [str(p) for p in script.PATHS.values()][: len(named)]  # the rest: trailing defaults
    assert list(script.PATHS) == [n for n in inspect.signature(script.STEP).parameters][1:]  # after params


def _paths(item) -> list[str]:
    paths = list(item) if isinstance(item, dict) else [item]
    return paths + [str(Path(p).parent) for p in paths if str(p).startswith("reports/")]  # reports/ as a folder
