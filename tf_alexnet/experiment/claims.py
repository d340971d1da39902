"""The paper's claims, each a named set of runs that differ in the one switch it is about.

Every run is AlexNet at CIFAR scale (configs/cifar10.flags' network: 67 px crops of 76 px
squares, half width, fc6/fc7 of 512; the paper's dropout 0.5, update rule, weight decay and
augmentation) on CIFAR-10's training photos (ExperimentConfig's default --data), half of each
class carved out as the held-out split that scores it, 5 epochs on a cosine schedule (Figure 1's runs: 12 epochs, constant
rate, no regularization). Runs are shared between claims (the
baseline serves five); `RUNS` holds what each changes, `CLAIMS` what each claim compares.

Cost on 2 cores (measured 2026-12-01): a 5-epoch run 2.1-2.5 min of training plus ~20 s of
scoring, a Figure 1 run 4.7 min; figure1 10 min, lrn/pooling/lighting/dropout 5 min each
beyond the baseline, ten_crops 2 min beyond it, ensemble 13 min; all 35 min 25 s.
"""

import dataclasses

# The base run, as TrainConfig fields (nested fields by name).
BASE = dict(image_size=67, width=0.5, fc_units=512, dropout=0.5, init="he", batch_size=64,
            learning_rate=0.005, warmup_epochs=0.5, lr_schedule="cosine", epochs=5.0,
            pca_sigma=0.1, log_every_steps=50, checkpoint_every_steps=2000)
# §3.1: "no regularization of any kind": no dropout, weight decay, lighting or flips; a
# constant learning rate (the step schedule's first drop, at epoch 25, is never reached)
# for 12 epochs, long enough for the ReLU net to pass 25% training error.
PLAIN = dict(dropout=0.0, weight_decay=0.0, pca_sigma=0.0, flip=False, epochs=12.0,
             lr_schedule="step")

RUNS = {
    "baseline": {},
    "lrn_none": dict(lrn="none"),
    "non_overlapping": dict(pooling="non_overlapping"),
    "no_lighting": dict(pca_sigma=0.0),
    "no_dropout": dict(dropout=0.0),
    **{f"seed{i}": dict(seed=i) for i in range(1, 5)},
    "relu_plain": dict(PLAIN, activation="relu"),
    "tanh_plain": dict(PLAIN, activation="tanh"),
}


@dataclasses.dataclass(frozen=True)
class Claim:
    """One of the paper's claims: where it is, what it says, the runs that test it and how
    they are compared (experiment/table.py's measure of that name)."""
    name: str
    where: str
    paper: str
    runs: tuple
    measure: str


CLAIMS = {c.name: c for c in (
    Claim("figure1", "§3.1, Figure 1", "a four-layer CNN with ReLUs reaches 25% training "
          "error on CIFAR-10 six times faster than with tanh", ("relu_plain", "tanh_plain"),
          "epochs_to_25"),
    Claim("lrn", "§3.3", "LRN lowers top-1 error by 1.4% (ImageNet); CIFAR-10: 13% test "
          "error without, 11% with", ("baseline", "lrn_none"), "top1"),
    Claim("pooling", "§3.4", "overlapping pooling (3x3, stride 2) lowers top-1 by 0.4% against "
          "2x2, stride 2, and overfits slightly less", ("baseline", "non_overlapping"),
          "top1_and_gap"),
    Claim("lighting", "§4.1", "PCA lighting lowers top-1 error by over 1%",
          ("baseline", "no_lighting"), "top1"),
    Claim("ten_crops", "§4.1, Table 1", "averaging 10 crops: 39.0% -> 37.5% top-1 "
          "(ILSVRC-2010 test)", ("baseline",), "ten_crops"),
    Claim("dropout", "§4.2", "without dropout the network overfits substantially",
          ("baseline", "no_dropout"), "gap"),
    Claim("ensemble", "Table 2", "averaging 5 CNNs: 18.2% -> 16.4% top-5 (ILSVRC-2012 "
          "validation)", ("baseline", "seed1", "seed2", "seed3", "seed4"), "ensemble"),
)}


def runs_of(names):
    """The run names the claims `names` need, in a stable order, each once."""
    wanted = []
    for name in names:
        for run in CLAIMS[name].runs:
            if run not in wanted:
                wanted.append(run)
    return wanted
