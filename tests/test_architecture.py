"""The layout's rules, checked on the source (issue 11): layers call one way (api ->
dispatch -> routing), no module imports a router but the app, no two modules import each
other (function-level imports count), and no function is longer than 100 lines except
numba kernels (compiled loops kept whole for speed) and generated migrations."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("routing", "dispatch", "api", "simulations")
MAX_LINES = 100


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            else:
                continue
            out[name].update(m for m in found if m in modules and m != name)
    return out


def test_layers_call_one_way_and_only_the_app_imports_routers() -> None:
    imports = _imports(_modules())
    wrong = []
    for module, used in imports.items():
        for dep in used:
            layer, dep_layer = module.split(".")[0], dep.split(".")[0]
            if layer == "routing" and dep_layer != "routing":
                wrong.append(f"{module} -> {dep}")
            if layer == "dispatch" and dep_layer not in ("dispatch", "routing"):
                wrong.append(f"{module} -> {dep}")
            if dep.startswith("api.routers.") and module not in ("api.main", "api.routers"):
                wrong.append(f"{module} -> {dep} (a router)")
    assert wrong == []


def test_no_two_modules_import_each_other() -> None:
    imports = _imports(_modules())
    cycles = sorted(
        f"{a} <-> {b}"
        for a, used in imports.items()
        for b in used
        if a < b and a in imports.get(b, ())
    )
    assert cycles == []


def test_no_function_over_100_lines_but_numba_kernels() -> None:
    long = []
    for path in _modules().values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            decorators = {ast.unparse(d).split("(")[0] for d in node.decorator_list}
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > MAX_LINES and not decorators & {"njit", "numba.njit"}:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert long == []
