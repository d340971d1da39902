"""What a run that did not learn, or diverged, should try: each suggestion one that was
measured to help on a few hundred photos a class (docs/training.md, "Small datasets").

Plain Python: the train loop's warnings take these lines; they never suggest a setting the
run already uses.
"""

SMALL_DATA_RECIPE = "configs/photos.flags"
# The recipe's choices that the paper's defaults lack (what makes it learn from scratch).
RECIPE_RATE = 0.005
RECIPE_FC_UNITS = 1024
FINETUNE_RATE = 0.001  # the README's fine-tuning command (docs/finetuning.md)


def _longer(config):
    if config.train_steps:
        return f"a longer run (--train_steps, now {config.train_steps})"
    return f"a longer run (--epochs, now {config.epochs:g})"


def not_learning(config):
    """The advice of the "did not learn" warning for a TrainConfig."""
    if config.init_from:
        tips = []
        if config.learning_rate > FINETUNE_RATE or config.head_lr_multiplier == 1:
            tips.append(
                f"the fine-tuning settings of docs/finetuning.md: --learning_rate="
                f"{FINETUNE_RATE:g} --head_lr_multiplier=10 (the new fc8 learns 10x faster)"
            )
        return "Try " + "; or ".join(tips + [_longer(config)]) + "."
    if (
        config.init == "paper"
        or config.learning_rate > RECIPE_RATE
        or config.fc_units > RECIPE_FC_UNITS
    ):
        first = (
            f"the small-data recipe: --flagfile {SMALL_DATA_RECIPE} then your --data and "
            "--workdir (He init, fc6/fc7 of 1024, rate 0.005 after a one-epoch warm-up, "
            "cosine); the paper's N(0, 0.01) init, rate 0.01 and 4096-unit fc6/fc7 stay at "
            "chance on a few hundred photos"
        )
    else:
        first = _longer(config)
    return f"Try {first}; or fine-tuning a trained run instead (--init_from, docs/finetuning.md)."


def diverged(config):
    """The advice of the "loss became non-finite" error for a TrainConfig."""
    lower = min(config.learning_rate / 2, RECIPE_RATE)
    warmup = "" if config.warmup_epochs else " with a warm-up (--warmup_epochs=1)"
    return f"try --learning_rate={lower:g}{warmup}, or --flagfile {SMALL_DATA_RECIPE}"
