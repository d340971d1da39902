"""The paper's claims, each a comparison of arms (sets of runs) that differ in one switch.

Every arm is trained with each of SEEDS (initialization, data order and augmentation draws),
in REGIME: AlexNet at CIFAR scale (configs/cifar10.flags' network: 67 px crops of 76 px
squares, half width, fc6/fc7 of 512; the paper's dropout 0.5, update rule, weight decay and
augmentation) on a fixed subset of 100 CIFAR-10 training photos a class, at a constant
learning rate of 0.005 after a 25-epoch warm-up, for 250 epochs (3,900 steps of 64), scored
on the held-out half of the photos (never trained on). That regime is chosen for
overfitting: the regularizers (§4) and overlapping pooling (§3.4) are claims about it;
the rate is one at which every arm trains (the probes that chose it: docs/paper_claims.md). The
table states the regime's measured gap. Figure 1 (§3.1) has its own network and runs
(experiment/figure1.py).

    ARMS      what each arm changes in REGIME (TrainConfig fields, nested ones by name)
    CLAIMS    what each claim compares, in which direction, by which measure
"""

import dataclasses

from tf_alexnet.model.spec import scaled_filters

SEEDS = (0, 1, 2)
WIDTH = 0.5
REGIME = dict(
    image_size=67,
    width=WIDTH,
    fc_units=512,
    dropout=0.5,
    init="he",
    batch_size=64,
    learning_rate=0.005,
    warmup_epochs=25.0,
    lr_schedule="step",
    step_epochs=(1000.0,),  # the step schedule's first step never comes: constant
    epochs=250.0,
    pca_sigma=0.1,
    train_per_class=100,
    cache_train=True,
    # the held-out curve: 1,000 photos every 5 epochs (15 steps an epoch)
    eval_examples=1000,
    eval_every_steps=75,
    log_every_steps=15,
    checkpoint_every_steps=750,
)
# §3.2: the one-GPU net has half the kernels of the two-GPU net in conv1..conv4, but all of
# conv5's (and the same fully connected layers): the paper's footnote 2.
TWO_TOWERS = scaled_filters(WIDTH)
ONE_TOWER = tuple(f // 2 for f in TWO_TOWERS[:4]) + TWO_TOWERS[4:]

ARMS = {
    "baseline": {},
    "no_dropout": dict(dropout=0.0),
    "no_lighting": dict(pca_sigma=0.0),
    "non_overlapping": dict(pooling="non_overlapping"),
    "lrn_none": dict(lrn="none"),
    "one_tower": dict(grouping="none", filters=ONE_TOWER),
    "no_conv3": dict(remove_layers=("conv3",)),
    "no_conv4": dict(remove_layers=("conv4",)),
}

# Held-out error within this of the run's lowest: "converged" (§4.2's measure).
CONVERGED_WITHIN = 0.01


@dataclasses.dataclass(frozen=True)
class Claim:
    """One of the paper's claims: where it is, what it says, the arms compared (the
    paper's arm first: the one the paper says is better, or faster) and the measure
    (experiment/table.py) that compares them."""

    name: str
    where: str
    paper: str
    arms: tuple
    measure: str


CLAIMS = {
    c.name: c
    for c in (
        Claim(
            "figure1",
            "§3.1, Figure 1",
            "a four-layer CNN with ReLUs reaches 25% training "
            "error on CIFAR-10 six times faster than with tanh",
            ("relu", "tanh"),
            "epochs_to_25",
        ),
        Claim(
            "towers",
            "§3.2",
            "the two-GPU net has 1.7% lower top-1 (1.2% top-5) error than a "
            "one-GPU net with half the kernels in conv1-conv4, and trains slightly faster",
            ("baseline", "one_tower"),
            "towers",
        ),
        Claim(
            "lrn",
            "§3.3",
            "LRN lowers top-1 error by 1.4% (ImageNet); CIFAR-10: 13% test error without, 11% with",
            ("baseline", "lrn_none"),
            "top1",
        ),
        Claim(
            "pooling",
            "§3.4",
            "overlapping pooling (3x3, stride 2) lowers top-1 by 0.4% "
            "against 2x2, stride 2, and overfits slightly less",
            ("baseline", "non_overlapping"),
            "top1_and_gap",
        ),
        Claim(
            "lighting",
            "§4.1",
            "PCA lighting lowers top-1 error by over 1%",
            ("baseline", "no_lighting"),
            "top1",
        ),
        Claim(
            "ten_crops",
            "§4.1, Table 1",
            "averaging 10 crops: 39.0% -> 37.5% top-1 (ILSVRC-2010 test)",
            ("baseline",),
            "ten_crops",
        ),
        Claim(
            "dropout",
            "§4.2",
            "without dropout the network overfits substantially",
            ("baseline", "no_dropout"),
            "gap",
        ),
        Claim(
            "dropout_convergence",
            "§4.2",
            "dropout roughly doubles the number of iterations required to converge",
            ("baseline", "no_dropout"),
            "convergence",
        ),
        Claim(
            "depth_conv3",
            "§7",
            "removing any middle convolutional layer loses about 2% top-1 (here conv3)",
            ("baseline", "no_conv3"),
            "top1",
        ),
        Claim(
            "depth_conv4",
            "§7",
            "removing any middle convolutional layer loses about 2% top-1 (here conv4)",
            ("baseline", "no_conv4"),
            "top1",
        ),
        Claim(
            "ensemble",
            "Table 2",
            "averaging 5 CNNs: 18.2% -> 16.4% top-5 (ILSVRC-2012 validation)",
            ("baseline",),
            "ensemble",
        ),
    )
}


def arms_of(names):
    """The regime arms the claims `names` need (Figure 1's are its own), each once, in a
    stable order."""
    wanted = []
    for name in names:
        for arm in CLAIMS[name].arms if CLAIMS[name].measure != "epochs_to_25" else ():
            if arm not in wanted:
                wanted.append(arm)
    return wanted
