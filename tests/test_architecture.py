"""The house's layering stays true: floors import only downwards, scikit-learn stays in `model/`.

Every import in `classifier/` (module level and inside functions) is read with `ast` and checked
against the floor map below, which is the same picture as `classifier/__init__.py` and
docs/architecture.md.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "classifier"

# Floor of every top-level part of the package (a subpackage or a module).
FLOORS = {
    "errors": 0, "paths": 0, "progress": 0,
    "text": 1,
    "labels": 2,
    "scoring": 3, "store": 3, "metadata": 3,
    "model": 4, "workspace": 4, "identity": 4,
    "annotate": 5,
    "training": 6, "classify": 6,
    "pipeline": 7, "cluster": 8,
    "retraining": 7, "corpus": 7, "report": 7, "exchange": 7, "analysis": 7, "bootstrap": 8, "background": 8,
    "cli": 9,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import in a file, relative imports resolved."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((target, node.lineno))
            if node.module is None or node.level and not node.module:
                out += [(f"{target}.{alias.name}", node.lineno) for alias in node.names]
    return out


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "classifier" and len(parts) > 1 else None


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_part_of_the_package_has_a_floor() -> None:
    parts = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in MODULES} - {"__init__"}
    assert parts == set(FLOORS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_only_downwards(path: Path) -> None:
    source = _part(_module_name(path))
    if source is None:  # classifier/__init__.py
        return
    for target, line in _imports(path):
        part = _part(target)
        if part is None or part == source:
            continue
        assert FLOORS[part] < FLOORS[source], (
            f"{path.relative_to(ROOT)}:{line} imports {target}: floor {FLOORS[part]} ({part}) is not below "
            f"floor {FLOORS[source]} ({source})"
        )


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_scikit_learn_is_imported_only_in_model(path: Path) -> None:
    if path.relative_to(PACKAGE).parts[0] == "model":
        return
    heavy = [(t, line) for t, line in _imports(path) if t.split(".")[0] in ("sklearn", "streamlit")]
    assert not heavy, f"{path.relative_to(ROOT)} imports {heavy}: scikit-learn lives in classifier/model/ only"


def test_the_scoring_floor_never_reaches_the_learning_floor() -> None:
    for path in (PACKAGE / "scoring").rglob("*.py"):
        assert all(_part(t) != "model" for t, _ in _imports(path)), path


def test_no_import_cycles_between_modules() -> None:
    names = {_module_name(p): p for p in MODULES}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in names.items():
        for target, _ in _imports(path):
            while target and target not in names:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                graph[name].add(target)
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for name in names:
        if name not in state:
            visit(name, [])


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_are_small_and_say_what_they_are_for(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 600, f"{path.relative_to(ROOT)} has {len(text.splitlines())} lines"
    assert ast.get_docstring(ast.parse(text)), f"{path.relative_to(ROOT)} has no module docstring"


def test_the_app_is_a_thin_frame_over_one_file_per_page() -> None:
    app = (ROOT / "app.py").read_text(encoding="utf-8")
    assert len(app.splitlines()) < 150
    assert "st.navigation" in app
    pages = sorted(p.name for p in (ROOT / "ui").glob("*.py"))
    assert pages == ["__init__.py", "analysis.py", "codebook.py", "common.py", "documents.py", "label.py", "label_form.py",
                     "model.py", "review.py", "signin.py"]
    for page in (ROOT / "ui").glob("*.py"):
        imported = {t.split(".")[0] for t, _ in _imports(page)}
        assert "sklearn" not in imported, page


def test_the_batch_path_imports_no_scipy() -> None:
    for name in ("scoring/batch.py", "pipeline.py", "cluster.py"):
        heavy = [t for t, _ in _imports(PACKAGE / name) if t.split(".")[0] in ("scipy", "sklearn")]
        assert not heavy, f"{name} imports {heavy}: the batch path runs on numpy alone"


def test_pmc_classify_imports_neither_scipy_nor_scikit_learn_nor_dask(tmp_path: Path) -> None:
    """What a cold `pmc classify` pays for: a fresh process classifying one paragraph."""
    import json
    import os
    import subprocess
    import sys

    from classifier.scoring.registry import install_shipped

    install_shipped(ROOT / "models" / "shipped", registry=tmp_path / "models")
    probe = ("import sys; sys.argv = ['pmc', 'classify', '-']\nfrom classifier.cli import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('scipy', 'sklearn', 'dask', 'distributed', 'charset_normalizer', "
             "'trafilatura', 'docx', 'pypdf', 'streamlit') if m in sys.modules), file=sys.stderr)")
    line = json.dumps({"text": "边检站加强口岸查缉，严防偷渡人员闯关出境。"}, ensure_ascii=False) + "\n"
    result = subprocess.run([sys.executable, "-c", probe], input=line.encode(), capture_output=True, cwd=ROOT,
                            env={**os.environ, "PMC_MODELS_DIR": str(tmp_path / "models")}, timeout=120)
    assert json.loads(result.stdout)["text"].startswith("边检站")
    assert result.stderr.decode().strip().splitlines()[-1] == "[]"
