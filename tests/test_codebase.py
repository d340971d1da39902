"""The package stays readable: no function over 60 lines, no module over ~400."""

import ast

from conftest import ROOT


def test_functions_and_modules_stay_short():
    long = []
    for path in sorted((ROOT / "tf_alexnet").glob("*.py")):
        source = path.read_text()
        assert len(source.splitlines()) <= 420, path.name
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.end_lineno - node.lineno + 1 > 60:
                    long.append(f"{path.name}:{node.lineno} {node.name}")
    assert not long, long
