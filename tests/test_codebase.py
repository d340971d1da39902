"""The package stays readable: short functions and modules, no import cycles, layers that
import only downwards, and the public API importable without TensorFlow."""

import ast
import io
import re
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


# A date, a commit hash or "measured on ..." marks a measurement's diary entry: those live in
# docs/performance.md and CHANGELOG.md, and the code points there.
DIARY = re.compile(
    r"\b(19|20)\d\d-\d\d(-\d\d)?\b|\bcommit [0-9a-f]{7,40}\b|\b(re-)?measured (on|at) ", re.I
)
# A figure with a unit of time or speed, or an accuracy or error.
FIGURE = re.compile(
    r"\d\s?(min|minutes|s|h|hours|days)\b|img/s|\d%\s(\w+ )?(accuracy|error|top-[15])"
)


def test_no_dated_measurements_in_the_package_or_the_flagfiles():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")) + sorted((ROOT / "configs").glob("*.flags")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if DIARY.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, found


def test_flagfile_headers_give_one_result_line_and_a_pointer():
    """Beyond what the recipe is for, a header gives its result and cost in one `Result:`
    sentence (at most two lines) and points to the docs for how it was measured."""
    for path in sorted((ROOT / "configs").glob("*.flags")):
        header = []
        for line in path.read_text().splitlines():
            if not line.startswith("#"):
                break
            header.append(line)
        results = [i for i, line in enumerate(header) if line.startswith("# Result:")]
        figures = [i for i, line in enumerate(header) if FIGURE.search(line)]
        if path.name != "paper.flags":  # the paper's own numbers, not a measurement of ours
            assert len(results) == 1, f"{path.name}: one `# Result:` line"
            assert set(figures) <= {results[0], results[0] + 1}, (path.name, figures)
            assert "docs/" in "".join(header[results[0] : results[0] + 2]), path.name


def test_the_diary_check_sees_dates_hashes_and_measurements():
    assert DIARY.search("# measured 2026-11-23: 2 min")
    assert DIARY.search("after (commit 77a862c)") and DIARY.search("Measured on an H100")
    assert not DIARY.search("the 2012 code's schedule (layers-18pct.cfg), 40.7%")
    assert FIGURE.search("in 33 minutes") and FIGURE.search("75.1% top-1 on held-out")
    assert not FIGURE.search("(50,000 32x32 JPEGs, 10 classes), 10% carved out")


def third_party_imports():
    """{top-level module: first place} of every module outside the standard library and
    the package that tf_alexnet/ imports, at the top, inside a function, or through
    errors.require("module", ...)."""
    import sys

    found = {}
    for name, (path, tree) in modules().items():
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", "") == "require"
                and isinstance(node.args[0], ast.Constant)
            ):
                names = [node.args[0].value]
            for top in {n.split(".")[0] for n in names}:
                if top != "tf_alexnet" and top not in sys.stdlib_module_names:
                    found.setdefault(top, f"{name}:{node.lineno}")
    return found


def installed_by(requirements):
    """The distributions (normalized names) that installing `requirements` brings: each
    and, recursively, what its installed metadata requires (extras left out)."""
    from importlib import metadata

    def norm(text):
        return re.split(r"[\s<>=!~;\[]", text.strip(), maxsplit=1)[0].lower().replace("_", "-")

    todo, seen = [norm(r) for r in requirements], set()
    while todo:
        dist = todo.pop()
        if dist in seen:
            continue
        seen.add(dist)
        try:
            requires = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [norm(r) for r in requires if "extra ==" not in r]
    return seen


def test_pip_install_dot_installs_every_module_the_package_imports():
    """The README's install line is `pip install .`: every command of the README and docs/
    must run after it (TFLite export, the report's figures), so each third-party module
    the package imports comes from setup.py's install_requires or what they require."""
    from importlib import metadata

    setup = ast.parse((ROOT / "setup.py").read_text())
    named = {  # setup.py's module-level constants (TF = "tensorflow>=2.21,<2.22")
        a.targets[0].id: a.value.value
        for a in setup.body
        if isinstance(a, ast.Assign) and isinstance(a.value, ast.Constant)
    }
    listed = next(
        k.value.elts
        for node in ast.walk(setup)
        if isinstance(node, ast.Call)
        for k in node.keywords
        if k.arg == "install_requires"
    )
    requires = [e.value if isinstance(e, ast.Constant) else named[e.id] for e in listed]
    brought = installed_by(requires)
    owners = metadata.packages_distributions()
    missing = {
        module: where
        for module, where in third_party_imports().items()
        if not {d.lower().replace("_", "-") for d in owners.get(module, [module])} & brought
    }
    assert not missing, f"imported but not installed by `pip install .`: {missing}"
    assert {"ai-edge-litert", "matplotlib"} <= brought  # export --tflite, report
