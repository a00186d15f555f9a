"""``InterruptedRun``: Ctrl-C or SIGTERM during ``vton fit`` saves ``last.ckpt`` and says in one line how to resume.

Lightning turns Ctrl-C into a graceful shutdown (``KeyboardInterrupt``, exit status 1) and SIGTERM into a
``SIGTERMException`` at the next batch boundary; both reach the callbacks' ``on_exception``. There this callback
writes the run's ``last.ckpt`` (mid-epoch checkpoints resume exactly: the DataModule stores the loop's position)
into every ``ModelCheckpoint`` folder that keeps one, so ``--ckpt_path last`` continues from the interrupted step,
and prints ``vton: interrupted at step N; saved <path>; resume with --ckpt_path last``. DataLoader workers ignore
SIGINT (``datamodules.fashion_datamodule.make_loader``), so Ctrl-C shows no worker tracebacks.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException


class InterruptedRun(Callback):
    """Saves ``last.ckpt`` and prints the resume line when a fit is interrupted (module docstring)."""

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, KeyboardInterrupt | SIGTERMException) or trainer.state.fn != TrainerFn.FITTING:
            return
        rewind_unfinished_batch(trainer)
        saved = []
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint) and callback.save_last and callback.dirpath is not None:
                path = Path(callback.dirpath) / f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"
                callback.last_model_path = str(path)  # saved in its state: the resumed run keeps writing last.ckpt
                trainer.save_checkpoint(path, weights_only=False)  # the full state: optimizers, loops, data position
                saved.append(str(path))
        if trainer.is_global_zero:
            where = f"; saved {', '.join(saved)}; resume with --ckpt_path last" if saved else " (no checkpoint kept)"
            print(f"vton: interrupted at step {trainer.global_step}{where}", file=sys.stderr, flush=True)


def rewind_unfinished_batch(trainer: Trainer) -> None:
    """Make the fit loop's batch counters say "the last batch trained on was the last one completed" when Ctrl-C cut a
    training step short (started but not processed): the checkpoint then restores as one saved after that batch
    (Lightning's "restarted on last"), the cut batch is trained on after the resume, and the logged step numbers
    continue without a gap (``lightning.pytorch.loops.training_epoch_loop.update_restart_stage``)."""
    progress = trainer.fit_loop.epoch_loop.batch_progress
    for counter in (progress.total, progress.current):
        if counter.processed < counter.started:
            counter.ready = counter.started = counter.completed = counter.processed
