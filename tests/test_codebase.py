"""The package stays readable: short functions and modules, no import cycles, layers that
import only downwards, and the public API importable without TensorFlow."""

import ast
import io
import textwrap
import tokenize

from conftest import ROOT

PACKAGE = ROOT / "tf_alexnet"


def modules():
    """{dotted module name: (path, parsed tree)} of every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = (path, ast.parse(path.read_text()))
    return out


def package_imports(tree, known):
    """[(module imported, line, inside a function)] of the package's own modules, whether
    imported at the top or inside a function."""
    inside = {
        id(n)
        for f in ast.walk(tree)
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
        for n in ast.walk(f)
        if n is not f
    }
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                for a in node.names
            ]
        for name in names:
            if name.startswith("tf_alexnet") and name != "tf_alexnet":
                found.append((name, node.lineno, id(node) in inside))
    return found


def logical_lines(source):
    """Python's logical lines (statements; a call spread over lines by the formatter is one),
    so that the limits below do not depend on how `ruff format` wraps code."""
    tokens = tokenize.generate_tokens(io.StringIO(textwrap.dedent(source)).readline)
    return sum(t.type == tokenize.NEWLINE for t in tokens)


def test_functions_and_modules_stay_short():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        lines = source.splitlines(keepends=True)
        if logical_lines(source) > 250:
            long.append(f"{path.relative_to(ROOT)}: {logical_lines(source)} statements")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = "".join(lines[node.lineno - 1 : node.end_lineno])
                if logical_lines(body) > 50:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not long, long


def test_logical_lines_counts_statements_not_wrapped_lines():
    assert logical_lines("f(\n    1,\n    2,\n)\nx = 1\n") == 2
    assert logical_lines("def g():\n    return [\n        1\n    ]\n") == 2


def test_no_import_cycles_counting_imports_inside_functions():
    trees = modules()
    graph = {
        name: {m for m, _, _ in package_imports(tree, trees)} for name, (_, tree) in trees.items()
    }
    unknown = {m for targets in graph.values() for m in targets if m not in trees}
    assert not unknown, unknown
    state, cycles = {}, []

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles


def test_package_imports_inside_functions_only_to_keep_tensorflow_unloaded():
    """A function may import a package module only where TensorFlow must not load before
    it runs (the train command sets XLA's environment first), and says so in a comment."""
    trees = modules()
    late = []
    for name, (path, tree) in trees.items():
        lines = path.read_text().splitlines()
        for module, line, inside in package_imports(tree, trees):
            comment = " ".join(lines[max(0, line - 4) : line])
            if inside and "TensorFlow" not in comment:
                late.append(f"{name}:{line} imports {module}")
    assert not late, late


def test_subpackage_inits_import_nothing():
    """Importing tf_alexnet.train (for its command) must not load TensorFlow: every
    subpackage __init__ is a docstring."""
    for path in PACKAGE.glob("*/__init__.py"):
        body = ast.parse(path.read_text()).body
        assert len(body) == 1 and isinstance(body[0], ast.Expr), path
