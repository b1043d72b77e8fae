"""The layering rule of DESIGN.md: lower layers never import higher ones; siblings don't import each other."""
import ast
from pathlib import Path

import pytest

import gankit

ROOT = Path(gankit.__file__).parent
LAYER = {"core": 0, "data": 1, "nn": 1, "augment": 1, "models": 2, "losses": 2, "metrics": 2, "checkpoint": 2,
         "training": 3, "latent": 3, "report": 3, "cli": 4, "web": 4}
# siblings that may import each other (metrics may use data, per the design; `gankit serve` starts the web app)
ALLOWED_SAME_LAYER = {("metrics", "data"), ("cli", "web")}


def _component(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "gankit" or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _files():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if len(rel.parts) > 1 or rel.stem in LAYER:
            yield path, (rel.parts[0] if len(rel.parts) > 1 else rel.stem)


@pytest.mark.parametrize("path,component", list(_files()), ids=lambda v: str(v).split("gankit/")[-1])
def test_imports_respect_layers(path, component):
    mine = LAYER[component]
    for module in _imports(path):
        other = _component(module)
        if other is None or other == component or other not in LAYER:
            continue
        theirs = LAYER[other]
        assert theirs <= mine, f"{component} (L{mine}) imports {module} (L{theirs})"
        if theirs == mine:
            assert (component, other) in ALLOWED_SAME_LAYER, f"sibling import {component} -> {module}"


def test_every_component_is_classified():
    names = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    names -= {"presets", "__pycache__"}
    assert names <= set(LAYER), names - set(LAYER)
