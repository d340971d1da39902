"""Every command block of the README and the guides runs, and every relative link resolves.

A page's ```sh and ```python blocks run in order in one sandbox directory (what one block
writes, the next may read, as a reader following the page would), with the project's
configs/, folders of photos (`my_photos/`, `new_photos/`: red, green, blue), `photo.jpg`,
`val_photos/` (the quickstart run's classes), `runs/quickstart` (the quickstart recipe,
shortened) and `../shared` beside it. A `<!-- test: ... -->` line right before a block
says, in clauses separated by ";", what the test does differently from a reader:

    needs WHAT       it needs what this machine lacks (ImageNet, Caffe's files, a server):
                     each tf_alexnet command's flags are parsed by its own definitions,
                     nothing runs
    data PATH        it reads PATH; absent, the block is only parsed, as with `needs`
    slow             it takes minutes: run in the slow run (`pytest -m slow`), parsed here
    skip WHY         not run at all: only for the checks themselves (CI's own commands)
    sub A => B       A replaced by B in the block (e.g. a paper-sized array by a small one)
    COMMAND ARGS     ARGS appended to each `python -m tf_alexnet.COMMAND` (shortened runs)

`python -m tf_alexnet.X` runs in this process (tests/helpers.run_cli) unless it asks for
--help (a fresh process: the help is the process's contract); `saved_model_cli` and
`python - <<'PY'`, `python -c`, `mkdir` and `cp` run as processes; `pip install` names
extras that setup.py declares.
A block of any other program must say why it is not run.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from absl import flags

from conftest import ROOT
from helpers import COMMANDS, colour_classes, run_cli, run_module, write_image

PAGES = sorted(
    [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "export" / "README.md"]
    + list((ROOT / "docs").glob("*.md")),
)
BLOCK = re.compile(
    r"(?:<!-- test: (?P<how>.*?) -->\n)?```(?P<lang>sh|python)\n(?P<body>.*?)```", re.S
)
LINK = re.compile(r"\]\((?!https?:|mailto:|#)([^)\s]+)\)")


def blocks(page):
    """[(directive clauses, language, text)] of a page's command blocks, in order."""
    out = []
    for m in BLOCK.finditer(page.read_text()):
        clauses = [c.strip() for c in (m["how"] or "").split(";") if c.strip()]
        out.append((clauses, m["lang"], m["body"]))
    return out


def commands(text):
    """The shell lines of a block: continuations joined, comments dropped, a heredoc kept
    with its body ("python - <<'PY'\\n...\\nPY")."""
    lines, out = text.splitlines(), []
    while lines:
        line = lines.pop(0)
        while line.endswith("\\") and lines:
            line = line[:-1] + " " + lines.pop(0).strip()
        if "<<'PY'" in line:
            body = []
            while lines and lines[0] != "PY":
                body.append(lines.pop(0))
            lines.pop(0)
            out.append((line, "\n".join(body)))
        elif line.strip() and not line.lstrip().startswith("#"):
            out.append((line, None))
    return out


def parse_directive(clauses):
    how = dict(needs=None, data=[], slow=False, skip=None, sub=[], args={})
    for clause in clauses:
        word, _, rest = clause.partition(" ")
        if word in ("needs", "skip"):
            assert rest, f"`{clause}`: say why"
            how[word] = rest
        elif word == "data":
            how["data"].append(rest)
        elif word == "slow":
            how["slow"] = True
        elif word == "sub":
            a, b = rest.split("=>")
            how["sub"].append((a.strip(), b.strip()))
        elif word in COMMANDS:
            how["args"].setdefault(word, []).extend(shlex.split(rest))
        else:
            raise AssertionError(f"unknown clause `{clause}`")
    return how


def check_flags(command, args, cwd):
    """The command's own flag definitions parse these arguments (a flagfile included)."""
    import importlib

    module = importlib.import_module(COMMANDS[command])
    values = flags.FlagValues()
    module.define_flags(values)
    here = os.getcwd()
    os.chdir(cwd)
    try:
        values([command, *args])
    finally:
        os.chdir(here)


def run_line(line, heredoc, how, cwd, parse_only):
    words = shlex.split(line, comments=True)
    out_file = None
    if ">" in words:
        words, out_file = words[: words.index(">")], words[words.index(">") + 1]
    where = f"`{line}`"
    if words[:2] == ["pip", "install"]:
        extras = re.findall(r"\[(.*?)\]", " ".join(words[2:]))
        declared = (ROOT / "setup.py").read_text()
        for extra in ",".join(extras).split(","):
            assert not extra or f'"{extra}":' in declared, f"{where}: no extra {extra}"
        return
    if words[:3] == ["python", "-m", "pytest"]:
        for marker in re.findall(r"-m (\w+)", line):
            assert marker in (ROOT / "pytest.ini").read_text(), f"{where}: marker {marker}"
        return
    if words[:2] == ["python", "-"] and heredoc is not None:
        if not parse_only:
            done = subprocess.run(
                [sys.executable, "-c", heredoc], cwd=cwd, capture_output=True, text=True
            )
            assert done.returncode == 0, f"{where}: {done.stderr[-2000:]}"
        return
    if words[:2] == ["python", "-m"] and words[2].startswith("tf_alexnet."):
        command = words[2].split(".", 1)[1]
        assert command in COMMANDS, f"{where}: no command {command}"
        args = words[3:] + how["args"].get(command, [])
        if parse_only:
            check_flags(command, [a for a in args if a not in ("--help", "--helpfull")], cwd)
            return
        if {"--help", "--helpfull"} & set(args):
            result = run_module(command, *args, cwd=cwd, timeout=120)
        else:
            result = run_cli(command, *args, cwd=cwd)
        assert result.returncode == 0, f"{where}:\n{result.stderr[-3000:]}"
        if out_file:
            (cwd / out_file).write_text(result.stdout)
        return
    if words[0] in ("mkdir", "cp") or words[:2] == ["python", "-c"]:
        if not parse_only:
            done = subprocess.run(line, shell=True, cwd=cwd, capture_output=True, text=True)
            assert done.returncode == 0, f"{where}: {done.stderr[-2000:]}"
        return
    if words[0] == "saved_model_cli":
        if not parse_only:
            program = Path(sys.executable).parent / "saved_model_cli"
            done = subprocess.run(
                [str(program), *words[1:]], cwd=cwd, capture_output=True, text=True
            )
            assert done.returncode == 0, f"{where}: {done.stderr[-2000:]}"
        return
    if not parse_only:
        raise AssertionError(f"{where}: a program the docs test cannot run; say why not")


def run_block(lang, text, how, cwd, slow_run):
    """Runs (or, under needs/absent data/slow, parses) one block in `cwd`."""
    for a, b in how["sub"]:
        assert a in text, f"sub: `{a}` is not in the block"
        text = text.replace(a, b)
    missing = [d for d in how["data"] if not (cwd / d).exists()]
    parse_only = bool(how["needs"] or missing or (how["slow"] and not slow_run))
    if lang == "python":
        code = compile(text, "docs python block", "exec")
        if not parse_only:
            here = os.getcwd()
            os.chdir(cwd)
            try:
                exec(code, {})
            finally:
                os.chdir(here)
        return
    for line, heredoc in commands(text):
        for part in [line] if heredoc is not None else line.split("&&"):
            run_line(part.strip(), heredoc, how, cwd, parse_only)


@pytest.fixture(scope="session")
def quickstart_run(tmp_path_factory):
    """The quickstart recipe, shortened: runs/quickstart for the pages that use it."""
    base = tmp_path_factory.mktemp("docs_quickstart")
    os.symlink(ROOT / "configs", base / "configs")
    result = run_cli(
        "train",
        "--flagfile",
        "configs/quickstart.flags",
        "--train_steps=40",
        "--synthetic_examples=640",
        cwd=base,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return base / "runs" / "quickstart"


def sandbox(tmp_path, quickstart):
    repo = tmp_path / "repo"
    repo.mkdir()
    os.symlink(ROOT / "configs", repo / "configs")
    if (ROOT.parent / "shared").exists():
        os.symlink(ROOT.parent / "shared", tmp_path / "shared")
    shutil.copytree(quickstart, repo / "runs" / "quickstart")
    colour_classes(repo / "my_photos", ["red", "green", "blue"], per_class=12)
    colour_classes(repo / "new_photos", ["red", "green", "blue"], per_class=8, seed=1)
    write_image(repo / "photo.jpg", colour_photo(120, 90))
    write_image(repo / "cat.jpg", colour_photo(64, 80))
    for name in json.loads((quickstart / "model.json").read_text())["class_names"]:
        write_image(repo / "val_photos" / name / "0.png", colour_photo(40, 40))
    return repo


def colour_photo(h, w):
    import numpy as np

    return np.random.default_rng(h * w).integers(0, 256, (h, w, 3), dtype=np.uint8)


def page_id(page):
    return str(page.relative_to(ROOT))


def run_page(page, tmp_path, quickstart, slow_run):
    cwd = sandbox(tmp_path, quickstart)
    for index, (clauses, lang, text) in enumerate(blocks(page)):
        how = parse_directive(clauses)
        if how["skip"]:
            continue
        try:
            run_block(lang, text, how, cwd, slow_run)
        except Exception as e:
            raise AssertionError(f"{page_id(page)}, block {index + 1}: {e}") from e


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_command_of_the_page_runs(page, tmp_path, quickstart_run):
    run_page(page, tmp_path, quickstart_run, slow_run=False)


SLOW_PAGES = [p for p in PAGES if any("slow" in c for c, _, _ in blocks(p))]


@pytest.mark.slow
@pytest.mark.parametrize("page", SLOW_PAGES, ids=page_id)
def test_every_command_of_the_page_runs_with_the_slow_blocks(page, tmp_path, quickstart_run):
    run_page(page, tmp_path, quickstart_run, slow_run=True)


@pytest.mark.parametrize("page", PAGES + [ROOT / "CHANGELOG.md"], ids=page_id)
def test_every_relative_link_resolves(page):
    text = page.read_text()
    anchors_of = {}
    for target in LINK.findall(text):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve()
        assert file.exists(), f"{page_id(page)}: {target} does not exist"
        if anchor and file.suffix == ".md":
            if file not in anchors_of:
                anchors_of[file] = anchors(file.read_text())
            assert anchor in anchors_of[file], f"{page_id(page)}: no #{anchor} in {path}"


def anchors(markdown):
    """GitHub's anchors of a page's headings (lower case, punctuation dropped, spaces to
    hyphens) and its explicit <a id=...>."""
    found = set(re.findall(r'<a id="([^"]+)"', markdown))
    for heading in re.findall(r"^#+ (.*)$", markdown, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_no_command_hides_outside_a_checked_block():
    """Indented code blocks are not run: commands belong in ```sh blocks."""
    for page in PAGES:
        for line in page.read_text().splitlines():
            assert not re.match(r"    (python|pip|saved_model_cli|docker|curl) ", line), (
                f"{page_id(page)}: `{line.strip()}` is an indented command; fence it (```sh)"
            )


def test_the_harness_reads_directives_and_commands():
    how = parse_directive(["needs ImageNet", "train --train_steps=2", "sub 227 => 67"])
    assert how["needs"] == "ImageNet" and how["args"] == {"train": ["--train_steps=2"]}
    assert how["sub"] == [("227", "67")]
    text = "a \\\n  b  # c\n# d\npython - <<'PY'\nprint(1)\nPY\n"
    assert commands(text) == [("a  b  # c", None), ("python - <<'PY'", "print(1)")]
    with pytest.raises(AssertionError, match="unknown clause"):
        parse_directive(["frobnicate"])
    assert anchors("## The paper's claims\n## TFLite") == {"the-papers-claims", "tflite"}
