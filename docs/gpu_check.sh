#!/usr/bin/env bash
# Issue 18's GPU check in one call: the bare compiled step, the train command on
# synthetic:random and on raw and JPEG shards made on that machine, `bench data` of each
# (host images/s and core-us per image on its cores), and a profiler trace of the train
# command. Run from the repository root with TensorFlow importable (on the lent GPU machine:
# after `. /tmp/w/base/env.sh`, see the developers' guide); logs and traces go to $OUT.
#
#   OUT=/tmp/out bash docs/gpu_check.sh                 # the GPU figures (~8 min on an H200)
#   OUT=/tmp/out BATCH=16 STEPS=6 TRAIN_STEPS=10 DATA_SECONDS=3 XLA=--noxla \
#       bash docs/gpu_check.sh                          # a dry run on a CPU (~5 min)
#
# One XLA cache is shared by every run (the fused bf16 step compiles once, ~2 min).
set -u
OUT=${OUT:-/tmp/gpu_check}
BATCH=${BATCH:-512}
STEPS=${STEPS:-300}
TRAIN_STEPS=${TRAIN_STEPS:-$(( STEPS + 100 ))}
DATA_SECONDS=${DATA_SECONDS:-20}
XLA=${XLA:---xla}
DATA=${DATA:-folder:../shared/data/imagenet-sample}
WORK=${WORK:-/tmp/gpu_check_work}
# Fresh shards and workdirs each run (a rerun would otherwise resume finished runs and keep
# shards of an older format); only the XLA cache is kept.
rm -rf "$WORK"/shards_* "$WORK"/train_* "$WORK/synthetic"
mkdir -p "$OUT" "$WORK"
export TF_XLA_FLAGS="--tf_xla_persistent_cache_directory=$WORK/xla_cache"
export TF_CPP_MIN_LOG_LEVEL=1

run() {  # run NAME COMMAND...: the command's output in $OUT/NAME.log, its time in the summary
    local name=$1; shift
    local start=$(date +%s)
    "$@" > "$OUT/$name.log" 2>&1
    echo "$name: exit $? in $(( $(date +%s) - start )) s" | tee -a "$OUT/summary.txt"
}

{ date -u; git rev-parse HEAD; nvidia-smi -L 2>/dev/null; nproc; } > "$OUT/summary.txt"
# --min_epoch_steps=0: a throughput run keeps its batch on the ~1,000-image shards.
train_flags=(--batch_size="$BATCH" --grouping=fused "$XLA" --eval_split= --log_every_steps=50
             --checkpoint_every_steps=100000 --train_steps="$TRAIN_STEPS" --min_epoch_steps=0)

run bench_train python -m tf_alexnet.bench train --batch_size "$BATCH" --groupings fused \
    "$XLA" --steps "$STEPS"
run train_synthetic python -m tf_alexnet.train --data=synthetic:random \
    --synthetic_examples=$(( BATCH * TRAIN_STEPS )) --mean=channel "${train_flags[@]}" \
    --profile_steps=$(( STEPS / 2 )),$(( STEPS / 2 + 20 )) --workdir="$WORK/synthetic"
cp -r "$WORK/synthetic/train/plugins" "$OUT/profile_synthetic" 2>/dev/null

for format in raw jpeg; do
    run "prepare_$format" python -m tf_alexnet.prepare --data="$DATA" \
        --output="$WORK/shards_$format" --format=$format --validation_fraction=0.01 \
        --num_shards=16
    run "bench_data_$format" python -m tf_alexnet.bench data \
        --data="tfrecord:$WORK/shards_$format" --batch_size "$BATCH" --seconds "$DATA_SECONDS"
    run "train_$format" python -m tf_alexnet.train --data="tfrecord:$WORK/shards_$format" \
        "${train_flags[@]}" --workdir="$WORK/train_$format"
done
run bench_data_synthetic python -m tf_alexnet.bench data --data=synthetic:random \
    --batch_size "$BATCH" --seconds "$DATA_SECONDS"
# Exactness on the GPU (fused vs towers and the numpy/PyTorch references, TF32 off).
run exactness python -m pytest -q -n 0 -p no:cacheprovider tests/test_model.py \
    tests/test_groupings.py tests/test_augment.py
grep -h -E "img/s|images/s|images_per_sec|loop/bare|Profile of" "$OUT"/*.log >> "$OUT/summary.txt"
cat "$OUT/summary.txt"
