"""The package is layered: a lower layer never imports a higher one.

Every ``.py`` file under ``ctkd_lab/`` is parsed with ``ast`` (nothing is imported), and every
import in it (module level or inside a function, absolute ``ctkd_lab.x...`` or relative
``from ..x import``, plus ``importlib.import_module("ctkd_lab.x")`` with a literal name) is
resolved to the top-level subpackage or module of ``ctkd_lab`` it targets. An edge is allowed
when it stays inside one top-level module, or goes to a strictly lower rank (``ALLOWED_PEERS``
lists the few same-rank exceptions). Peers of one rank (``data``, ``models``, ``losses``) may not
import each other.

The package root ``ctkd_lab/__init__.py`` is imported whenever any submodule is, so its
module-level imports are held to rank 0 (today it only holds ``__version__``); imports inside
its functions (lazy ``__getattr__`` re-exports) are exempt. Importing the root itself
(``from .. import __version__``) is allowed from anywhere.

Every top-level module must be in ``LAYERS``: a new one (``quant``, ``hub``, ...) fails the test
until it is given a rank, so the map stays complete.
"""
from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "ctkd_lab"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / PACKAGE

#: top-level module -> rank; a module may import only its own top-level module and lower ranks
LAYERS: dict[str, int] = {
    "errors": 0,
    "atomic": 0,                            # atomic file writes (imports nothing of the package)
    "registry": 1,                          # name -> object registries (imports errors only)
    "quant": 1,                             # fake quantizers (imports nothing of the package; models rebuild with it)
    "resample": 1,                          # deterministic pooling/upsampling (imports nothing of the package)
    "data": 2, "models": 2, "losses": 2,    # peers: none of the three imports another
    "zoo": 2,                               # pre-trained teachers by name (imports errors only; methods use it)
    "methods": 3,
    "train": 4,
    "analysis": 5,
    "study": 6,                             # running studies, reusing runs (train + analysis)
    "viz": 7,
    "widgets": 8,
    "cli": 9, "__main__": 9,
    "lab_server": 9,                        # make lab's Jupyter server hooks (imports nothing of the package)
}
#: same-rank edges that are allowed (source, target)
ALLOWED_PEERS: frozenset[tuple[str, str]] = frozenset({("__main__", "cli")})
#: the package root (``__init__.py``); as a target it is allowed everywhere, as a source its
#: module-level imports are held to this rank
ROOT = "__init__"
ROOT_RANK = 0


@dataclass(frozen=True)
class ImportEdge:
    file: str        # path relative to the folder that holds the package
    line: int
    imported: str    # the dotted name as resolved (for the message)
    source: str      # top-level module of the importing file
    target: str      # top-level module imported (ROOT for the package itself)
    lazy: bool       # inside a function body


def _top_level_modules(package_dir: Path) -> set[str]:
    """Names of the package's top-level modules: ``x.py`` files and folders holding ``.py`` files."""
    names = set()
    for child in package_dir.iterdir():
        if child.is_file() and child.suffix == ".py" and child.name != "__init__.py":
            names.add(child.stem)
        elif child.is_dir() and child.name != "__pycache__" and any(child.rglob("*.py")):
            names.add(child.name)
    return names


def _module_parts(path: Path, package_dir: Path, package: str) -> tuple[list[str], bool]:
    """Dotted parts of the module a file defines, and whether it is a package ``__init__``."""
    rel = path.relative_to(package_dir).with_suffix("")
    parts = [package, *rel.parts]
    if parts[-1] == "__init__":
        return parts[:-1], True
    return parts, False


def _source_of(path: Path, package_dir: Path) -> str:
    rel = path.relative_to(package_dir)
    if rel.parts == ("__init__.py",):
        return ROOT
    return rel.parts[0].removesuffix(".py")


def _target_of(dotted: str, package: str) -> str | None:
    """Top-level module of ``package`` that ``dotted`` names, ROOT for the package, None if outside."""
    parts = dotted.split(".")
    if parts[0] != package:
        return None
    return parts[1] if len(parts) > 1 else ROOT


def _in_function(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return True
    return False


def collect_edges(package_dir: Path, package: str = PACKAGE) -> tuple[list[ImportEdge], list[str]]:
    """Every import of ``package`` by its own files, and problems that are not edges.

    The problems are relative imports that climb out of the package (they cannot be resolved).
    """
    package_dir = Path(package_dir)
    known = _top_level_modules(package_dir)
    edges: list[ImportEdge] = []
    problems: list[str] = []
    for path in sorted(package_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        rel_file = path.relative_to(package_dir.parent).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        module_parts, is_package = _module_parts(path, package_dir, package)
        source = _source_of(path, package_dir)
        here_package = module_parts if is_package else module_parts[:-1]

        found: list[tuple[ast.AST, str]] = []  # (import node, dotted name it imports)
        add = found.append
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add((node, alias.name))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    up = node.level - 1
                    if up >= len(here_package):
                        problems.append(f"{rel_file}:{node.lineno} has a relative import (level {node.level}) "
                                        f"that climbs out of the package {package}")
                        continue
                    base_parts = here_package[:len(here_package) - up]
                    base = ".".join(base_parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                if base == package:
                    # ``from ctkd_lab import x``: x is a submodule if it names one, else an attribute of the root
                    for alias in node.names:
                        if alias.name in known or alias.name in LAYERS:
                            add((node, f"{package}.{alias.name}"))
                        else:
                            add((node, package))
                else:
                    add((node, base))
            elif isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if name in ("import_module", "__import__") and node.args \
                        and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                    add((node, node.args[0].value))
        for node, dotted in found:
            target = _target_of(dotted, package)
            if target is not None:
                edges.append(ImportEdge(rel_file, node.lineno, dotted, source, target, _in_function(node, parents)))
    return edges, problems


def check_layers(package_dir: Path, package: str = PACKAGE,
                 layers: dict[str, int] = LAYERS,
                 allowed_peers: frozenset[tuple[str, str]] = ALLOWED_PEERS) -> list[str]:
    """One message per violation; an empty list means the package is correctly layered."""
    package_dir = Path(package_dir)
    edges, problems = collect_edges(package_dir, package)
    messages = list(problems)
    for name in sorted(_top_level_modules(package_dir) - set(layers)):
        messages.append(f"{package}/{name} is not in the layer map: add '{name}' with its rank to LAYERS in "
                        f"tests/test_layers.py (and to the layer list in {package}/__init__.py's docstring)")

    def rank_label(module: str) -> str:
        rank = ROOT_RANK if module == ROOT else layers[module]
        return f"{package if module == ROOT else module} (rank {rank})"

    for edge in edges:
        if edge.target == edge.source:
            continue
        if edge.target != ROOT and edge.target not in layers:
            messages.append(f"{edge.file}:{edge.line} imports {edge.imported}, whose top-level module "
                            f"'{edge.target}' is not in the layer map: add it to LAYERS in tests/test_layers.py")
            continue
        if edge.target == ROOT:
            continue  # the root only holds constants at module level (checked below, as a source)
        if edge.source == ROOT:
            if edge.lazy:
                continue
            source_rank = ROOT_RANK
        elif edge.source in layers:
            source_rank = layers[edge.source]
        else:
            continue  # the source is already reported as missing from the map
        target_rank = layers[edge.target]
        if target_rank < source_rank or (edge.source, edge.target) in allowed_peers:
            continue
        kind = "peer" if target_rank == source_rank else "upward"
        messages.append(f"{edge.file}:{edge.line} imports {edge.imported} "
                        f"(layer {rank_label(edge.source)} -> layer {rank_label(edge.target)}, {kind} edge)")
    return messages


# ----------------------------------------------------------------------------------------------
# The real package
# ----------------------------------------------------------------------------------------------


def test_package_is_layered():
    messages = check_layers(PACKAGE_DIR)
    assert not messages, (
        f"{len(messages)} layering problem(s); a module may import only its own top-level module and "
        f"lower layers {sorted(LAYERS, key=LAYERS.get)}:\n  " + "\n  ".join(messages))


def test_checker_sees_the_real_imports():
    """Guard against a checker that silently finds nothing (a wrong path, a parse that skips all)."""
    edges, problems = collect_edges(PACKAGE_DIR)
    assert not problems
    pairs = {(e.source, e.target) for e in edges}
    assert ("methods", "losses") in pairs and ("methods", "models") in pairs and ("train", "methods") in pairs
    assert len(edges) > 50


# ----------------------------------------------------------------------------------------------
# Self-test on a fake package
# ----------------------------------------------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def fake(tmp_path):
    pkg = tmp_path / "fakepkg"
    _write(pkg, {
        "__init__.py": '__version__ = "0"\n',
        "errors.py": "class UserError(ValueError):\n    pass\n",
        "data/__init__.py": "from ..errors import UserError\nfrom .loader import load\n",
        "data/loader.py": "def load():\n    return 1\n",
        "models/__init__.py": "from fakepkg.errors import UserError\n",
        "losses/__init__.py": "import torch\n",
        "methods/__init__.py": "from ..losses import x\nfrom fakepkg.models import y\nfrom . import base\n",
        "methods/base.py": "from .. import __version__\n",
        "train/__init__.py": "from ..methods import base\n",
        "analysis/__init__.py": "from ..train import t\n",
        "study/__init__.py": "from ..analysis import a\nfrom ..train import t\n",
        "viz/__init__.py": "from ..study import s\n",
        "widgets/__init__.py": "from ..viz import v\n",
        "cli.py": "from .widgets import w\n",
        "__main__.py": "from .cli import main\n",
    })
    return pkg


def test_clean_fake_package_passes(fake):
    assert check_layers(fake, "fakepkg") == []


def test_upward_import_inside_a_function_is_caught(fake):
    _write(fake, {"models/resnet.py": """\
        import math


        def build():
            from ...fakepkg import errors  # noqa: climbs out, reported separately
            return math.pi


        def helper():
            from ..train import trainer
            return trainer
        """})
    messages = check_layers(fake, "fakepkg")
    upward = [m for m in messages if "upward" in m]
    assert upward == ["fakepkg/models/resnet.py:10 imports fakepkg.train "
                      "(layer models (rank 2) -> layer train (rank 4), upward edge)"]
    assert any("climbs out" in m and "resnet.py:5" in m for m in messages)


@pytest.mark.parametrize("file,text,expected", [
    ("losses/kd.py", "import fakepkg.models.base\n",
     "fakepkg/losses/kd.py:1 imports fakepkg.models.base (layer losses (rank 2) -> layer models (rank 2), peer edge)"),
    ("errors.py", "from fakepkg import data\n",
     "fakepkg/errors.py:1 imports fakepkg.data (layer errors (rank 0) -> layer data (rank 2), upward edge)"),
    ("train/loop.py", "import importlib\nviz = importlib.import_module('fakepkg.viz')\n",
     "fakepkg/train/loop.py:2 imports fakepkg.viz (layer train (rank 4) -> layer viz (rank 7), upward edge)"),
    ("__init__.py", "from .cli import main\n",
     "fakepkg/__init__.py:1 imports fakepkg.cli (layer fakepkg (rank 0) -> layer cli (rank 9), upward edge)"),
    ("cli.py", "from .__main__ import run\n",
     "fakepkg/cli.py:1 imports fakepkg.__main__ (layer cli (rank 9) -> layer __main__ (rank 9), peer edge)"),
])
def test_each_kind_of_bad_edge_is_caught(fake, file, text, expected):
    _write(fake, {file: text})
    assert check_layers(fake, "fakepkg") == [expected]


def test_lazy_import_in_the_root_is_exempt(fake):
    _write(fake, {"__init__.py": "def __getattr__(name):\n    from . import widgets\n    return widgets\n"})
    assert check_layers(fake, "fakepkg") == []


def test_module_missing_from_the_map_fails(fake):
    _write(fake, {"hub/__init__.py": "from ..models import y\n", "methods/kd.py": "from ..sparsity import q\n"})
    messages = check_layers(fake, "fakepkg")
    assert any(m.startswith("fakepkg/hub is not in the layer map: add 'hub'") for m in messages), messages
    assert any("methods/kd.py:1 imports fakepkg.sparsity" in m and "not in the layer map" in m for m in messages)
