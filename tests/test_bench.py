"""python -m tf_alexnet.bench through the command: each benchmark prints its figures."""

import re

from helpers import run_cli


def test_bench_data_prints_rate_and_host_cost_per_image():
    result = run_cli(
        "bench",
        "data",
        "--data=synthetic:random",
        "--synthetic_examples=64",
        "--image_size=67",
        "--batch_size=8",
        "--seconds=0.5",
        "--warmup=1",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [l for l in result.stdout.splitlines() if "images/s" in l]
    assert len(lines) == 2, result.stdout
    for line in lines:
        rate, cost = map(float, re.search(r"(\d+) images/s, (\d+) core-us/image", line).groups())
        assert rate > 0 and cost > 0, line


def test_bench_model_runs_each_grouping():
    result = run_cli(
        "bench",
        "model",
        "--image_size=67",
        "--batch_size=2",
        "--steps=1",
        "--warmup=0",
        "--groupings=towers,none",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"^towers\s", result.stdout, re.M) and re.search(
        r"^none\s", result.stdout, re.M
    ), result.stdout


def test_bench_ceilings_prints_each_precision_the_cpu_has():
    from tf_alexnet.bench.measure import cpu_flags, precisions

    result = run_cli("bench", "ceilings", "--steps=1")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = dict(re.findall(r"^(float32|bfloat16)\s+([\d.]+)\s+[\d.]+$", result.stdout, re.M))
    has_bf16 = bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
    assert tuple(rows) == (("float32", "bfloat16") if has_bf16 else ("float32",)) == precisions()
    assert all(float(rate) > 0 for rate in rows.values()), result.stdout
