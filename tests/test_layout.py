"""The package's architecture, read from its imports: no import circles, and every subpackage
imports only the layers below it (the table in README.md, "Layout").

Every ``import`` and ``from ... import`` in dsnb/ counts, at module level or inside a function
(only ``if TYPE_CHECKING:`` blocks are left out: they never run).
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "dsnb"

# What each part of dsnb may import from dsnb (besides itself). Read it bottom-up: data and
# metrics import nothing of dsnb; tasks the shipped data; ... ; the CLI anything.
ALLOWED = {
    "data": set(),
    "metrics": set(),
    "show": set(),
    "tasks": {"data"},
    "report": {"metrics"},
    "theory": {"report"},
    "nano": {"tasks", "data"},
    "rl": {"tasks", "metrics", "data", "nano"},
    "study": {"rl", "tasks", "metrics", "data", "report"},
    "dashboard": {"rl", "tasks", "metrics", "report"},
    "integrations": {"rl", "tasks", "metrics"},
    "exercises": {"theory", "metrics", "rl"},  # checkers compare answers with the library
    "cli": {"data", "tasks", "metrics", "nano", "rl", "study", "theory", "report"},
    "__init__": set(),  # the lazy entry points are imported by importlib, on first use only
    "__main__": {"cli"},
}
# Parts that must never import the training stack (they are used without torch: notebooks 01-02,
# graders inside other people's RL pipelines, reports redrawn from shipped results).
NO_TORCH = ("data", "metrics", "tasks", "theory", "report", "show")
HEAVY = {"torch", "transformers", "peft", "trl", "unsloth", "accelerate"}
# The loop imports no widget or plotting code.
NO_WIDGETS = ("rl", "tasks", "metrics", "nano", "data")
WIDGETS = {"ipywidgets", "plotly", "IPython", "anywidget"}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def part(module: str) -> str:
    """The top-level part of dsnb a module belongs to: dsnb.rl.trainer -> "rl"."""
    bits = module.split(".")
    return bits[1] if len(bits) > 1 else "__init__"


def _type_checking_lines(tree) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in ast.walk(node):
                if hasattr(sub, "lineno"):
                    lines.add(sub.lineno)
    return lines


def imports(path: Path, modules=frozenset()) -> set[str]:
    """Every module `path` imports (absolute names; relative imports resolved). In
    ``from pkg import name`` the edge goes to ``pkg.name`` when that is one of `modules`
    (a submodule), else to ``pkg`` itself."""
    tree = ast.parse(path.read_text(), str(path))
    skip = _type_checking_lines(tree)
    me = module_name(path).split(".")
    if path.name != "__init__.py":
        me = me[:-1]  # the package `path` is in
    out = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(me[: len(me) - node.level + 1] + ([base] if base else []))
            subs = {f"{base}.{a.name}" for a in node.names} & set(modules)
            out |= subs
            if len(subs) < len(node.names):
                out.add(base)
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PKG.rglob("*.py")}
    g = {}
    for mod, path in files.items():
        g[mod] = {name for name in imports(path, frozenset(files)) if name in files and name != mod}
    return g


def test_every_subpackage_imports_only_the_layers_below_it(graph):
    bad = []
    for mod, deps in graph.items():
        mine = part(mod)
        for dep in deps:
            theirs = part(dep)
            if theirs != mine and theirs not in ALLOWED[mine] and dep != "dsnb":
                bad.append(f"{mod} -> {dep}")
    assert not bad, "imports against the layering (see ALLOWED):\n" + "\n".join(sorted(bad))


def find_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every back edge of a depth-first walk, as the circle it closes."""
    state, stack, circles = {}, [], []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == "open":
                circles.append(stack[stack.index(d) :] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return circles


def test_no_import_circles(graph):
    circles = find_circles(graph)
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


def test_the_circle_check_finds_a_circle_and_passes_a_tree():
    assert find_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]
    assert find_circles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_pure_parts_never_import_the_training_stack_and_the_loop_imports_no_widgets():
    bad = []
    for path in PKG.rglob("*.py"):
        mod = module_name(path)
        roots = {name.split(".")[0] for name in imports(path)}
        if part(mod) in NO_TORCH and roots & HEAVY:
            bad.append(f"{mod} imports {sorted(roots & HEAVY)}")
        if part(mod) in NO_WIDGETS and roots & WIDGETS:
            bad.append(f"{mod} imports {sorted(roots & WIDGETS)}")
    assert not bad, "\n".join(bad)


def test_only_the_cli_imports_the_integrations(graph):
    users = sorted(
        m
        for m, deps in graph.items()
        if any(part(d) == "integrations" for d in deps) and part(m) not in ("integrations", "cli")
    )
    assert not users


def test_the_layering_table_knows_every_part(graph):
    assert {part(m) for m in graph} <= set(ALLOWED)


def test_import_dsnb_stays_light():
    code = (
        "import sys, dsnb, dsnb.tasks, dsnb.theory, dsnb.metrics, dsnb.rl, dsnb.study; "
        "print(','.join(m for m in ('torch', 'transformers', 'plotly', 'ipywidgets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
