"""``limit_*_batches: 1`` must mean one batch, not the whole split.

Lightning annotates ``Trainer(limit_val_batches=...)`` (and the train, test and predict limits) as
``Optional[Union[int, float]]`` (int: a number of batches, float: a fraction). ``typing`` caches ``Optional[X]`` by
``X``, and ``Union[int, float] == Union[float, int]``, so when ``lightning.fabric`` has built ``Optional[Union[float,
int]]`` first, the Trainer's annotation *is* that object: jsonargparse then tries ``float`` first and reads ``1`` as
``1.0``, which Lightning takes as 100 % of the split (``configs/trainer/smoke.yaml``'s ``limit_val_batches: 1``
validated every batch). ``prefer_int_batch_limits`` re-annotates the four arguments int-first, as Lightning wrote
them, before the CLI reads the Trainer's signature.
"""

from __future__ import annotations

from lightning.pytorch import Trainer

BATCH_LIMITS = ("limit_train_batches", "limit_val_batches", "limit_test_batches", "limit_predict_batches")


def prefer_int_batch_limits() -> None:
    """Annotate the Trainer's ``limit_*_batches`` as ``int | float | None`` (module docstring)."""
    for name in BATCH_LIMITS:
        Trainer.__init__.__annotations__[name] = int | float | None
