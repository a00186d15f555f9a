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
        saved = []
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint) and callback.save_last and callback.dirpath is not None:
                path = Path(callback.dirpath) / f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"
                trainer.save_checkpoint(path)
                saved.append(str(path))
        if trainer.is_global_zero:
            where = f"; saved {', '.join(saved)}; resume with --ckpt_path last" if saved else " (no checkpoint kept)"
            print(f"vton: interrupted at step {trainer.global_step}{where}", file=sys.stderr, flush=True)
