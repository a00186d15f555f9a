"""A fast inference path for any ``batch dict -> dict of tensors`` callable (a stage module, the try-on chain).

``accelerate(fn, InferenceOptions(...))`` stacks, in this order:

1. **eval + no_grad**: an ``nn.Module`` is put in eval mode; every call runs under ``torch.no_grad``.
2. **precision** (``"fp32"`` | ``"bf16"`` | ``"bf16-weights"``):

   - ``"fp32"``: PyTorch's defaults (cuDNN convolutions may use TF32, ``torch.backends.cudnn.allow_tf32``).
   - ``"bf16"``: ``torch.autocast(dtype=torch.bfloat16)`` with fp32 weights. Chosen as the default because it works
     on every stage untouched: autocast keeps softmax, norms and reductions in fp32 and casts per op, so fp32
     tensors the stages build themselves (pixel grids, ``torch.tensor`` scales in ``contract.flow``) never clash with
     bf16 weights. Its cost is one bf16 copy of each weight per call (autocast's cast cache is off: it is unsafe
     under CUDA graph capture, see the torch.cuda.graphs docs).
   - ``"bf16-weights"``: the module's floating parameters and buffers cast to bf16 once (``module.to``), still
     under autocast (which resolves the dtype mixes above). Saves the per-call weight casts; BatchNorm statistics
     and fixed buffers (TPS grids) then live in bf16. Offered to be measured against ``"bf16"``
     (``scripts/bench_gpu.py``); needs an ``nn.Module``.

3. **channels_last**: the module's 4-D weights and every 4-D floating input tensor in ``torch.channels_last`` (the
   input conversion is part of the call, so compiled and captured paths include it).
4. **compile**: ``torch.compile(..., mode=compile_mode, dynamic=False)``: static shapes, one specialisation per
   input shape. ``compile_mode`` is ``"default"`` (Inductor, no autotuning: compiles in tens of seconds) or
   ``"max-autotune-no-cudagraphs"`` (autotuned convolutions / GEMMs, minutes per network). Inductor's own CUDA
   graphs (``"reduce-overhead"``) are not used: step 5 does it explicitly, for eager and compiled callables alike.
5. **cuda_graphs**: ``cuda_graphed``: explicit ``torch.cuda.CUDAGraph`` capture with static input buffers. The first
   call warms up on a side stream (compilation, cuDNN autotuning, lazy initialisation happen there), captures one
   call, then replays; later calls copy their tensors into the static inputs and replay. Outputs are the graph's
   static buffers, **overwritten by the next call** (clone what you keep); non-tensor entries of the batch (``meta``)
   are frozen at capture; a tensor whose shape or dtype differs from the captured one is an error naming its key.
   Capture fails on host syncs (``.item()``, data-dependent shapes) and on copies from pageable host memory such
   as ``torch.tensor([...], device="cuda")``; Inductor folds the latter into kernels, so ``compile=True`` is usually
   what makes a stage capturable (``scripts/bench_gpu.py`` reports both).

Without a CUDA device, ``compile`` and ``cuda_graphs`` are rejected with a ``ValueError`` (not skipped): a silent
fallback would make a benchmark row lie about what it measured. ``"fp32"``, ``"bf16"`` (CPU autocast) and
``channels_last`` work on the CPU.

``compare_outputs(reference, candidate)`` gives the max abs difference per output key (fast path vs fp32 eager);
``host_syncs`` lists where a forward makes the host wait for the GPU (what breaks CUDA graph capture).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

PRECISIONS = ("fp32", "bf16", "bf16-weights")
COMPILE_MODES = ("default", "max-autotune-no-cudagraphs")
Batch = Mapping[str, Any]
BatchFn = Callable[[Batch], Mapping[str, Any]]


@dataclass(frozen=True)
class InferenceOptions:
    """What ``accelerate`` applies (module docstring). The defaults are the fast path: bf16 autocast,
    channels_last, compiled, CUDA graphs.

    Args:
        precision: ``"fp32"`` | ``"bf16"`` (autocast, fp32 weights) | ``"bf16-weights"`` (weights cast to bf16).
        channels_last: 4-D weights and inputs in ``torch.channels_last``.
        compile: ``torch.compile`` with static shapes.
        cuda_graphs: explicit CUDA graph capture with static input buffers.
        compile_mode: ``"default"`` or ``"max-autotune-no-cudagraphs"``.
        warmup: calls before the CUDA graph capture (side stream).
    """

    precision: str = "bf16"
    channels_last: bool = True
    compile: bool = True
    cuda_graphs: bool = True
    compile_mode: str = "default"
    warmup: int = 3

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"InferenceOptions: precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.compile_mode not in COMPILE_MODES:
            raise ValueError(
                f"InferenceOptions: compile_mode must be one of {COMPILE_MODES}, got {self.compile_mode!r}"
            )
        if self.warmup < 1:
            raise ValueError(f"InferenceOptions: warmup must be >= 1, got {self.warmup}")

    @property
    def name(self) -> str:
        """Short label, e.g. ``"bf16+cl+compile+graphs"``."""
        parts = [self.precision]
        parts += ["cl"] if self.channels_last else []
        parts += ["compile" if self.compile_mode == "default" else "autotune"] if self.compile else []
        parts += ["graphs"] if self.cuda_graphs else []
        return "+".join(parts)


# ---------------------------------------------------------------------------------------------- nested batches
def tensor_leaves(obj: Any, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
    """``(path, tensor)`` of every tensor in nested dicts / lists / tuples (NamedTuples too), e.g.
    ``("tgt_masks.cloth", t)`` or ``("level_flows.0", t)``; other leaves are skipped."""
    if isinstance(obj, Tensor):
        yield prefix, obj
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            yield from tensor_leaves(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(obj, list | tuple):
        for index, value in enumerate(obj):
            yield from tensor_leaves(value, f"{prefix}.{index}" if prefix else str(index))


def map_tensors(obj: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    """``obj`` with ``fn`` applied to every tensor, containers rebuilt (NamedTuples keep their type)."""
    if isinstance(obj, Tensor):
        return fn(obj)
    if isinstance(obj, Mapping):
        return {key: map_tensors(value, fn) for key, value in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(map_tensors(value, fn) for value in obj))
    if isinstance(obj, list | tuple):
        return type(obj)(map_tensors(value, fn) for value in obj)
    return obj


def batch_device(batch: Batch) -> torch.device:
    """The device of the batch's tensors; an error if it has none or several."""
    devices = {tensor.device for _, tensor in tensor_leaves(batch)}
    if len(devices) != 1:
        found = sorted(map(str, devices))
        raise ValueError(f"accelerate: the batch must hold tensors on exactly one device, found {found}")
    return devices.pop()


def to_channels_last(batch: Batch) -> Any:
    """Every 4-D floating tensor of ``batch`` in ``torch.channels_last`` (others unchanged)."""

    def convert(tensor: Tensor) -> Tensor:
        if tensor.dim() == 4 and tensor.is_floating_point():
            return tensor.contiguous(memory_format=torch.channels_last)
        return tensor

    return map_tensors(batch, convert)


# ---------------------------------------------------------------------------------------------- the fast path
def _require_cuda(options: InferenceOptions) -> None:
    if (options.compile or options.cuda_graphs) and not torch.cuda.is_available():
        flags = (("compile", options.compile), ("cuda_graphs", options.cuda_graphs))
        wanted = " and ".join(name for name, on in flags if on)
        raise ValueError(
            f"accelerate: {wanted} need a CUDA device and none is available; use "
            "InferenceOptions(compile=False, cuda_graphs=False) on the CPU"
        )


def accelerate(fn: BatchFn, options: InferenceOptions | None = None) -> BatchFn:
    """Wrap ``fn`` (``batch dict -> dict of tensors``) in the fast path described in the module docstring.

    An ``nn.Module`` is modified in place (eval mode; channels_last / bf16 weights as ``Module.to`` would): pass a
    ``copy.deepcopy`` to keep the original. The returned callable takes the same batch dicts; with ``cuda_graphs``
    its outputs are static buffers overwritten by the next call.

    Raises:
        ValueError: ``compile`` / ``cuda_graphs`` without CUDA; ``"bf16-weights"`` on a plain function.
    """
    options = options or InferenceOptions()
    _require_cuda(options)
    module = fn if isinstance(fn, nn.Module) else None
    if options.precision == "bf16-weights" and module is None:
        raise ValueError("accelerate: precision 'bf16-weights' casts a module's weights; got a plain function")
    if module is not None:
        module.eval()
        if options.channels_last:
            module.to(memory_format=torch.channels_last)
        if options.precision == "bf16-weights":
            module.to(torch.bfloat16)
    autocast = options.precision != "fp32"

    def forward(batch: Batch) -> Mapping[str, Any]:
        device_type = batch_device(batch).type
        if options.channels_last:  # inside the compiled / captured region: fused or replayed with the rest
            batch = to_channels_last(batch)
        with (
            torch.no_grad(),
            torch.autocast(device_type, dtype=torch.bfloat16, enabled=autocast, cache_enabled=False),
        ):
            return fn(batch)

    run = torch.compile(forward, mode=options.compile_mode, dynamic=False) if options.compile else forward
    return cuda_graphed(run, options.warmup) if options.cuda_graphs else run


def cuda_graphed(fn: BatchFn, warmup: int = 3) -> BatchFn:
    """``fn`` captured into one ``torch.cuda.CUDAGraph`` at its first call and replayed afterwards (module
    docstring, step 5). ``fn`` must already do its own no_grad / autocast (``accelerate`` does)."""
    if not torch.cuda.is_available():
        raise ValueError("cuda_graphed: CUDA graphs need a CUDA device and none is available")
    state: dict[str, Any] = {}

    def capture(batch: Batch) -> None:
        device = batch_device(batch)
        if device.type != "cuda":
            raise ValueError(f"cuda_graphed: the batch is on {device}; CUDA graphs need it on a CUDA device")
        static_in = map_tensors(batch, lambda t: t.clone())
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(warmup):
                fn(static_in)
        torch.cuda.current_stream(device).wait_stream(side)
        graph, stream = torch.cuda.CUDAGraph(), torch.cuda.current_stream(device)
        try:
            with torch.cuda.graph(graph):
                static_out = fn(static_in)
        except RuntimeError as error:
            torch.cuda.set_stream(stream)  # a failed capture can leave its capture stream current
            cause = str(error.__context__ or error).strip().splitlines()
            raise RuntimeError(
                f"cuda_graphed: capture failed ({cause[0] if cause else type(error).__name__}); host syncs and copies "
                "from pageable host memory (torch.tensor(..., device='cuda')) cannot be captured, compile=True folds "
                "the latter"
            ) from error
        state.update(graph=graph, inputs=dict(tensor_leaves(static_in)), outputs=static_out)

    def copy_in(batch: Batch) -> None:
        leaves = dict(tensor_leaves(batch))
        expected = state["inputs"]
        if leaves.keys() != expected.keys():
            missing, extra = sorted(expected.keys() - leaves.keys()), sorted(leaves.keys() - expected.keys())
            raise ValueError(f"cuda_graphed: keys differ from the captured batch: missing {missing}, extra {extra}")
        for key, tensor in leaves.items():
            static = expected[key]
            if tensor.shape != static.shape or tensor.dtype != static.dtype:
                raise ValueError(
                    f"cuda_graphed: batch[{key!r}] is {tuple(tensor.shape)} {tensor.dtype}, the graph was captured for "
                    f"{tuple(static.shape)} {static.dtype}; capture another graph for this shape"
                )
            if tensor.data_ptr() != static.data_ptr():
                static.copy_(tensor, non_blocking=True)

    def call(batch: Batch) -> Mapping[str, Any]:
        if "graph" not in state:
            capture(batch)
        else:
            copy_in(batch)
        state["graph"].replay()
        return state["outputs"]

    return call


# ---------------------------------------------------------------------------------------------- checks
def compare_outputs(reference: Mapping[str, Any], candidate: Mapping[str, Any]) -> dict[str, float]:
    """Max abs difference per tensor output (nested keys joined by dots, e.g. ``level_flows.0``), in fp32.

    NaN anywhere gives NaN for that key. Raises ``ValueError`` when the keys or shapes differ (both named)."""
    ref, cand = dict(tensor_leaves(reference)), dict(tensor_leaves(candidate))
    if ref.keys() != cand.keys():
        raise ValueError(
            f"compare_outputs: keys differ: only in reference {sorted(ref.keys() - cand.keys())}, "
            f"only in candidate {sorted(cand.keys() - ref.keys())}"
        )
    diffs = {}
    for key, expected in ref.items():
        got = cand[key]
        if got.shape != expected.shape:
            raise ValueError(f"compare_outputs: {key!r} is {tuple(got.shape)} vs reference {tuple(expected.shape)}")
        if got.numel() == 0:
            diffs[key] = 0.0
            continue
        difference = (got.detach().float() - expected.detach().float().to(got.device)).abs()
        diffs[key] = float("nan") if difference.isnan().any() else float(difference.max())
    return diffs


def host_syncs(fn: BatchFn, batch: Batch) -> list[str]:
    """Code locations (``file:line``) where ``fn(batch)`` makes the host wait for the GPU, from
    ``torch.cuda.set_sync_debug_mode("warn")`` during one eager, no_grad call. Needs the batch on a CUDA device."""
    if batch_device(batch).type != "cuda":
        raise ValueError("host_syncs: the batch must be on a CUDA device (sync detection is a CUDA feature)")
    previous = torch.cuda.get_sync_debug_mode()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with torch.no_grad():
                fn(batch)
        finally:
            torch.cuda.set_sync_debug_mode(previous)
    torch.cuda.synchronize()  # after restoring the mode: this sync is ours, not the forward's
    found = [f"{w.filename}:{w.lineno}" for w in caught if "synchroniz" in str(w.message).lower()]
    return list(dict.fromkeys(found))
