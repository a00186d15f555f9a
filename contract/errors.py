"""The project's error types for mistakes in what a user gave it.

A ``UserInputError`` carries one line that names the file (and line), the config key or the checkpoint at fault and,
where there is one, the fix. The command-line tools (``vton``, ``vton-data``) print that line and exit with status 2,
without a traceback unless ``VTON_DEBUG=1`` (or ``--debug``) asks for one; any other exception is a bug and keeps
its traceback.
"""

from __future__ import annotations


class UserInputError(Exception):
    """A mistake in the user's input (data, config, checkpoint); ``str(error)`` is the one line to print."""


class DatasetFormatError(UserInputError, ValueError):
    """A dataset file is missing, unreadable or malformed; the message names the file (and line)."""


class ConfigError(UserInputError, ValueError):
    """A configuration that cannot work (a value the networks cannot take, options that do not fit together); the
    message names the config key, e.g. ``data.init_args.image_size``."""


class StageCheckpointError(UserInputError, RuntimeError):
    """A stage checkpoint is missing, changed, or does not fit the module it should restore; the message names the
    checkpoint (and the stage, feeder or tensor at fault)."""
