"""The README's Quickstart is what CI and users run: keep it true (the README's other
blocks run in tests/test_docs.py)."""

import re


from conftest import ROOT
from helpers import last_json, run_cli


def quickstart_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(block) == 1, "the Quickstart is one ```sh block"
    return [line.strip() for line in block[0].splitlines() if line.strip()]


def test_quickstart_has_exactly_two_commands_and_ci_runs_the_second():
    commands = quickstart_commands()
    assert len(commands) == 2, commands
    assert commands[0].startswith("pip install . && python -m tf_alexnet.train")
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines(), "the README's test command must be .ci/run's"


def test_quickstart_first_command_runs_the_quickstart_recipe(tmp_path):
    train_part = quickstart_commands()[0].split("&&", 1)[1].split()
    assert train_part[:3] == ["python", "-m", "tf_alexnet.train"]
    flagfile = [a for a in train_part if a.startswith("configs/")]
    assert flagfile == ["configs/quickstart.flags"]
    recipe = (ROOT / flagfile[0]).read_text()
    assert "--data=synthetic:shapes" in recipe  # the embedded default: no download
    # The same command, shortened by a flag after the flagfile (the full run is slow-marked).
    out = last_json(
        run_cli(
            "train",
            *train_part[3:],
            f"--workdir={tmp_path}",
            "--train_steps=3",
            "--synthetic_examples=320",
        )
    )
    assert out["step"] == 3
    assert out["num_images"] == 32  # the validation split: a tenth of 320
    assert 0.0 <= out["top1_error"] <= 1.0 and 0.0 <= out["top5_error"] <= out["top1_error"]
