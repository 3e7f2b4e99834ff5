"""The package's layering: no import cycles, and no model names in the training engine."""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

SOURCE = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SOURCE / "ferlab"


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(path: Path, modules: set[str]) -> set[str]:
    """The ferlab modules ``path`` imports at run time, at module level or inside functions
    (imports under ``if TYPE_CHECKING:`` are left out: they never run)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            node.body = []
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # names that are submodules
    return {name for name in found if name in modules and name != this}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    return {module_name(path): runtime_imports(path, modules) for path in paths}


def test_the_graph_sees_function_level_imports() -> None:
    graph = import_graph()
    assert len(graph) > 50
    assert "ferlab.engine" in graph["ferlab.cli.research"], "the research commands import the engine inside them"


def test_no_import_cycles_among_ferlab_modules() -> None:
    try:
        tuple(graphlib.TopologicalSorter(import_graph()).static_order())
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_the_engine_branches_on_no_model_name() -> None:
    """Models declare their training needs (`FerModel.training_outputs`), so no comparison in
    engine/ involves a model name (a default value, such as TrainConfig's model, is no branch)."""
    from ferlab.models import list_models

    names = set(list_models())
    for path in sorted((PACKAGE / "engine").glob("*.py")):
        compared = {
            constant.value
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Compare)
            for constant in ast.walk(node)
            if isinstance(constant, ast.Constant)
        }
        assert not compared & names, f"{path.name} compares with model names {sorted(compared & names)}"


APPLICATION = ("ferlab.app", "ferlab.faces", "ferlab.serve", "ferlab.weights", "ferlab.cli.application")
RESEARCH = ("ferlab.engine", "ferlab.evaluate", "ferlab.study")


def _in(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def test_application_modules_reach_nothing_of_the_research_layer() -> None:
    """No application module imports, directly or through others (function-level imports included), anything
    from engine/, evaluate/ or study/: shared torch-free pieces live below both layers. The application
    commands (predict, demo, video, serve) are held to this too, with the CLI modules they use."""
    graph = import_graph()
    assert {"ferlab.cli.options", "ferlab.cli.tables"} <= graph["ferlab.cli.application"]
    for start in sorted(module for module in graph if _in(module, APPLICATION)):
        seen, stack = {start}, [(start, (start,))]
        while stack:
            module, path = stack.pop()
            for imported in graph[module] - seen:
                assert not _in(imported, RESEARCH), f"{' -> '.join((*path, imported))}"
                seen.add(imported)
                stack.append((imported, (*path, imported)))


SHOW_HELP = (
    "from ferlab.cli import main\n"
    "def show_help(*command):\n"
    "    try:\n"
    "        main([*command, '--help'])\n"
    "    except SystemExit:\n"
    "        pass\n"
)
"""Python that defines ``show_help(*command)``: runs ``ferlab COMMAND --help`` in this interpreter."""


def probe_lines(probe: str) -> list[str]:
    """The lines starting ``@@ `` that the Python code ``probe`` prints, run in a fresh interpreter."""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line.startswith("@@ ")]


def test_importing_the_application_commands_runs_nothing_of_the_research_layer() -> None:
    """At run time too, package ``__init__``s included: the application commands and the monitor sub-app (which
    shares `ferlab.cli.options`) load no research module and no torch, and import in either order without a
    cycle through `ferlab.cli`, whose app is assembled on first use. Running ``ferlab predict`` loads none
    either (not even the training settings the research commands' flags are made from); ``ferlab train``
    loads its commands on demand."""
    probe = (
        "import sys\n"
        "import ferlab.monitor.cli, ferlab.cli.application\n"
        "research = ('ferlab.engine', 'ferlab.evaluate', 'ferlab.study', 'ferlab.cli.research')\n"
        "loaded = lambda: sorted(m for m in sys.modules if m.startswith(research))\n"
        "print('@@', loaded(), 'torch' in sys.modules)\n"
        f"{SHOW_HELP}"
        "for command in ('predict', 'train'):\n"
        "    show_help(command)\n"
        "    print('@@', command, 'ferlab.engine.config' in sys.modules, 'torch' in sys.modules)\n"
    )
    lines = probe_lines(probe)
    assert lines == ["@@ [] False", "@@ predict False False", "@@ train True False"]


def module_level_imports(path: Path) -> set[str]:
    """The absolute module names ``path`` imports when it loads: imports at module level (inside a
    module-level ``try`` or ``if`` too, but not under ``if TYPE_CHECKING:``); imports inside functions
    (optional libraries) are left out."""
    found: set[str] = set()
    pending = list(ast.parse(path.read_text()).body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.If) and ast.unparse(node.test) not in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            pending += node.body + node.orelse
        elif isinstance(node, ast.Try):
            pending += node.body + node.orelse + node.finalbody + [n for h in node.handlers for n in h.body]
    return found


def test_the_light_install_declares_every_library_its_modules_import() -> None:
    """Every third-party library that a ferlab module imports on loading, among the modules that the
    ``ferlab`` command (its help and the application commands') and `ferlab.analyze` load, comes from a
    distribution that ``pip install .`` names itself, not one that a dependency happens to bring: typer
    0.28 stopped bringing click, and ``ferlab demo`` failed on a fresh install."""
    probe = (
        f"import sys, ferlab\n{SHOW_HELP}"
        "for command in ((), ('predict',), ('demo',), ('video',), ('monitor',)):\n"
        "    show_help(*command)\n"
        "ferlab.analyze\n"
        "print('@@', *sorted(m for m in sys.modules if m.startswith('ferlab')))\n"
    )
    (loaded,) = [line.split()[1:] for line in probe_lines(probe)]
    paths = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
    pyproject = tomllib.loads((SOURCE.parent / "pyproject.toml").read_text())
    declared = {Requirement(line).name.lower() for line in pyproject["project"]["dependencies"]}
    distributions = packages_distributions()
    third_party: dict[str, str] = {}
    for module in loaded:
        for imported in module_level_imports(paths[module]):
            top = imported.partition(".")[0]
            if top != "ferlab" and top not in sys.stdlib_module_names:
                third_party.setdefault(top, module)
    assert {"typer", "numpy", "cv2"} <= third_party.keys()
    for top, importer in sorted(third_party.items()):
        owners = {name.lower() for name in distributions.get(top, [])}
        assert owners & declared, f"{importer} imports {top} (from {sorted(owners)}), not in [project].dependencies"
