"""models.fast_inference (CPU paths; compile + CUDA graphs on a GPU) and a CPU smoke run of scripts/bench_gpu.py."""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from models.blocks import ConvNormAct
from models.fast_inference import (
    InferenceOptions,
    accelerate,
    compare_outputs,
    cuda_graphed,
    host_syncs,
    map_tensors,
)

REPO = Path(__file__).resolve().parents[2]
EAGER = {"compile": False, "cuda_graphs": False}


class TinyStage(nn.Module):
    """A stage-like module: batch dict in, dict of tensors (and a tuple) out; batch norm, so eval mode matters."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.encode = ConvNormAct(3 + 2, 8, norm="batch")
        self.decode = ConvNormAct(8, 3, norm="none", act="tanh")
        with torch.no_grad():  # non-trivial running statistics: train-mode and eval-mode outputs differ
            self.encode[1].running_mean.uniform_(-0.5, 0.5)
            self.encode[1].running_var.uniform_(0.5, 2.0)

    def forward(self, batch: dict) -> dict:
        features = self.encode(torch.cat([batch["image"], batch["masks"]["pair"]], 1))
        image = self.decode(features)
        return {"image": image, "levels": (features.mean((2, 3)),)}


def tiny_batch(batch_size: int = 2, device: str = "cpu", seed: int = 1) -> dict:
    generator = torch.Generator().manual_seed(seed)
    batch = {
        "image": torch.rand(batch_size, 3, 64, 48, generator=generator) * 2 - 1,
        "masks": {"pair": torch.rand(batch_size, 2, 64, 48, generator=generator)},
        "meta": {"id": ["a"] * batch_size},
    }
    return map_tensors(batch, lambda t: t.to(device))


def reference(module: nn.Module, batch: dict) -> dict:
    with torch.no_grad():
        return module.eval()(batch)


def test_fp32_eager_is_eval_no_grad_and_exact() -> None:
    module, batch = TinyStage(), tiny_batch()
    expected = reference(copy.deepcopy(module), batch)
    fast = accelerate(module.train(), InferenceOptions("fp32", channels_last=False, **EAGER))
    out = fast(batch)
    assert not module.training
    assert not out["image"].requires_grad
    assert compare_outputs(expected, out) == {"image": 0.0, "levels.0": 0.0}


def test_bf16_autocast_close_to_fp32_but_not_identical() -> None:
    module, batch = TinyStage(), tiny_batch()
    expected = reference(copy.deepcopy(module), batch)
    diffs = compare_outputs(expected, accelerate(module, InferenceOptions("bf16", channels_last=False, **EAGER))(batch))
    assert 0 < diffs["image"] < 0.05  # bf16 has 8 mantissa bits: ~1e-2 on tanh outputs, never 0
    assert module.encode[0].weight.dtype == torch.float32  # autocast keeps fp32 weights


def test_bf16_weights_casts_the_module_and_stays_close() -> None:
    module, batch = TinyStage(), tiny_batch()
    expected = reference(copy.deepcopy(module), batch)
    out = accelerate(module, InferenceOptions("bf16-weights", channels_last=False, **EAGER))(batch)
    assert module.encode[0].weight.dtype == torch.bfloat16
    assert compare_outputs(expected, out)["image"] < 0.05
    with pytest.raises(ValueError, match="bf16-weights"):
        accelerate(lambda b: b, InferenceOptions("bf16-weights", **EAGER))


def test_channels_last_matches_fp32_within_1e5() -> None:
    module, batch = TinyStage(), tiny_batch()
    expected = reference(copy.deepcopy(module), batch)
    out = accelerate(module, InferenceOptions("fp32", channels_last=True, **EAGER))(batch)
    assert module.encode[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert max(compare_outputs(expected, out).values()) <= 1e-5


def test_compare_outputs_known_answer_and_errors() -> None:
    reference_out = {"a": torch.tensor([1.0, 2.0]), "b": {"c": torch.zeros(2)}, "t": (torch.tensor(1.0),)}
    candidate = {"a": torch.tensor([1.5, 2.0]), "b": {"c": torch.tensor([0.0, -3.0])}, "t": (torch.tensor(1.0),)}
    assert compare_outputs(reference_out, candidate) == {"a": 0.5, "b.c": 3.0, "t.0": 0.0}
    poisoned = {**candidate, "a": torch.tensor([float("nan"), 2.0])}
    assert math.isnan(compare_outputs(reference_out, poisoned)["a"])
    with pytest.raises(ValueError, match="only in reference \\['t.0'\\]"):
        compare_outputs(reference_out, {"a": candidate["a"], "b": candidate["b"]})
    with pytest.raises(ValueError, match="'a' is \\(3,\\)"):
        compare_outputs(reference_out, {**candidate, "a": torch.zeros(3)})


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="precision must be one of"):
        InferenceOptions("fp16")
    with pytest.raises(ValueError, match="compile_mode"):
        InferenceOptions(compile_mode="reduce-overhead")
    assert InferenceOptions().name == "bf16+cl+compile+graphs"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour without a CUDA device")
@pytest.mark.parametrize("flags", [{"compile": True, "cuda_graphs": False}, {"compile": False, "cuda_graphs": True}])
def test_compile_and_cuda_graphs_are_rejected_without_cuda(flags: dict) -> None:
    name = "compile" if flags["compile"] else "cuda_graphs"
    with pytest.raises(ValueError, match=f"{name} need a CUDA device"):
        accelerate(TinyStage(), InferenceOptions("fp32", channels_last=False, **flags))
    with pytest.raises(ValueError, match="need a CUDA device"):
        cuda_graphed(lambda b: b)


def test_host_syncs_needs_a_cuda_batch() -> None:
    with pytest.raises(ValueError, match="must be on a CUDA device"):
        host_syncs(TinyStage(), tiny_batch())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_compiled_cuda_graph_replays_new_inputs() -> None:
    module = TinyStage().cuda()
    first, second = tiny_batch(4, "cuda", seed=1), tiny_batch(4, "cuda", seed=2)
    expected_first, expected_second = reference(copy.deepcopy(module), first), reference(copy.deepcopy(module), second)
    fast = accelerate(module, InferenceOptions("bf16", channels_last=True, compile=True, cuda_graphs=True))
    out: dict[str, Tensor] = fast(first)
    assert compare_outputs(expected_first, out)["image"] < 0.05
    out = fast(second)  # the captured graph with the second batch copied into its static inputs
    assert compare_outputs(expected_second, out)["image"] < 0.05
    assert compare_outputs(expected_first, out)["image"] > 0.1  # really recomputed, not the first result
    with pytest.raises(ValueError, match="batch\\['image'\\] is \\(2, 3, 64, 48\\)"):
        fast(tiny_batch(2, "cuda"))


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", REPO / "scripts" / "bench_gpu.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_gpu"] = bench  # its dataclasses look their module up
    spec.loader.exec_module(bench)
    return bench


def test_bench_gpu_cpu_smoke(tmp_path: Path) -> None:
    bench = load_bench()
    nets = "--model.init_args.generator.init_args"
    tiny = f"{nets}.base_width 4 {nets}.n_blocks 1 "
    disc = "--model.init_args.discriminator.init_args"
    tiny += f"{disc}.num_scales 1 {disc}.base_width 4"
    out = tmp_path / "bench.md"
    args = ["--device", "cpu", "--quick", "--size", "64x48", "--only", "stage3", "--batch-sizes", "1"]
    args += [
        "--configs",
        "fp32,bf16,bf16+cl+graphs",
        "--data-root",
        str(REPO / "tests" / "fixtures" / "mpv"),
        "--out",
        str(out),
    ]
    bench.main([*args, "--cli-args", tiny])
    tables = json.loads(out.with_suffix(".json").read_text())["tables"]
    rows = {row["config"]: row for row in tables["Inference, batch 1"]}
    assert rows["fp32"]["max abs diff (tryon)"] == "0"  # fp32 eager against itself: exactly equal
    assert 0 < float(rows["bf16"]["max abs diff (tryon)"]) < 0.1
    assert float(rows["fp32"]["median ms"]) > 0 and rows["fp32"]["repeats"] == 2
    for name in ("bf16+cl+graphs", "bf16+cl+compile", "bf16+cl+compile+graphs"):
        assert rows[name]["note"] == "skipped: compile / CUDA graphs need a CUDA device"
    assert tables["Fast-path checks"][0]["result"] == "n/a: needs a CUDA device"
    markdown = out.read_text()
    assert "### Inference, batch 1" in markdown and "- device: CPU" in markdown and "- versions: torch" in markdown
