"""Train the synthetic set's garment attribute classifier and write it where AttrRec-k and FashionIS look for it
(``make attribute-classifier``).

The classifier (``models.attribute_classifier.AttributeClassifier``) learns each person image's top kind and
pattern from the synthetic set's attribute files (``datamodules/synthetic/attributes.py``), on the train split's
source and target images; it is scored on the test split's and exported with ``metrics.attributes.
save_attribute_classifier`` to ``--out`` (default ``$TORCH_HOME/hub/checkpoints/vton_attribute_classifier.pt2``,
where ``vton test`` finds it with ``weights_dir`` unset). Nothing is downloaded.

Choices (seed 004 does not describe its recogniser's training): Adam at 2e-3 with a cosine decay to 0 over the
run, batch 64, 10 epochs, the sum of the two groups' cross entropies, random horizontal flips (a garment's kind and
pattern do not change in a mirror), a 128x96 input; the images are resized once, as the network would (bilinear,
antialiased), and kept as uint8; training runs channels-last (faster convolutions on a CPU).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from contract.errors import UserInputError
from datamodules.synthetic.attributes import ATTRIBUTE_GROUPS, ATTRIBUTE_NAMES, GarmentAttributes, dataset_attributes
from metrics.attributes import ATTRIBUTE_CLASSIFIER_FILE, AttributeRecall, save_attribute_classifier
from metrics.lpips import weights_folder
from models.attribute_classifier import AttributeClassifier

GROUP_SIZES = [len(values) for values in ATTRIBUTE_GROUPS.values()]
LEARNING_RATE, BATCH_SIZE, EPOCHS, INPUT_SIZE = 2e-3, 64, 10, (128, 96)


def load_images(root: Path, records: list[GarmentAttributes], size: tuple[int, int]) -> torch.Tensor:
    """The records' images ``[N, 3, *size]`` uint8, resized as ``AttributeClassifier`` resizes."""
    images = torch.empty(len(records), 3, *size, dtype=torch.uint8)
    for i, record in enumerate(records):
        with Image.open(root / record.image) as image:
            pixels = torch.from_numpy(np.asarray(image.convert("RGB")).copy()).permute(2, 0, 1)[None].float()
        resized = F.interpolate(pixels, size=size, mode="bilinear", align_corners=False, antialias=True)
        images[i] = resized[0].round().clamp(0, 255).to(torch.uint8)
    return images


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 -> float in [-1, 1] (the data contract)."""
    return images.float() / 127.5 - 1.0


def targets(records: list[GarmentAttributes]) -> torch.Tensor:
    """``[N, 2]`` long: kind and pattern index per image."""
    return torch.tensor([record.indices() for record in records], dtype=torch.long)


def group_loss(log_probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sum over the groups of the mean negative log-likelihood of the true value."""
    groups = log_probs.split(GROUP_SIZES, dim=1)
    return sum(F.nll_loss(group, labels[:, g]) for g, group in enumerate(groups))


def train(
    model: AttributeClassifier,
    images: torch.Tensor,
    labels: torch.Tensor,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    lr: float = LEARNING_RATE,
    seed: int = 0,
) -> list[float]:
    """Adam (cosine decay to 0) over shuffled batches with random horizontal flips; returns each epoch's mean loss."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * -(-len(images) // batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    model.train().to(memory_format=torch.channels_last)
    losses = []
    for _ in range(epochs):
        order, total = torch.randperm(len(images), generator=generator), 0.0
        for start in range(0, len(images), batch_size):
            index = order[start : start + batch_size]
            batch = to_model_range(images[index])
            flip = torch.rand(len(index), generator=generator) < 0.5
            batch[flip] = batch[flip].flip(-1)
            loss = group_loss(model(batch.contiguous(memory_format=torch.channels_last)), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(index)
        losses.append(total / len(images))
    model.to(memory_format=torch.contiguous_format)
    return losses


@torch.no_grad()
def evaluate(model: AttributeClassifier, images: torch.Tensor, records: list[GarmentAttributes]) -> dict[str, float]:
    """Accuracy of kind, pattern and both on ``images``, and AttrRec-k (k = 2, 5) of the real images."""
    model.eval()
    log_probs = torch.cat([model(to_model_range(chunk)) for chunk in images.split(BATCH_SIZE)])
    labels = targets(records)
    predicted = torch.stack([group.argmax(1) for group in log_probs.split(GROUP_SIZES, dim=1)], dim=1)
    correct = predicted == labels
    recall = AttributeRecall(model, top_k=(2, 5))
    truth = torch.tensor([record.multi_hot() for record in records])
    for chunk, chunk_truth in zip(images.split(BATCH_SIZE), truth.split(BATCH_SIZE), strict=True):
        recall.update(to_model_range(chunk), chunk_truth)
    figures = {
        "kind_accuracy": float(correct[:, 0].float().mean()),
        "pattern_accuracy": float(correct[:, 1].float().mean()),
        "both_accuracy": float(correct.all(1).float().mean()),
    }
    figures.update({f"attr_rec_{k}": float(value) for k, value in recall.compute().items()})
    return figures


def parse_size(text: str) -> tuple[int, int]:
    height, _, width = text.partition("x")
    if not (height.isdigit() and width.isdigit()) or min(int(height), int(width)) < 16:
        raise argparse.ArgumentTypeError(
            f"size must look like HEIGHTxWIDTH, each 16 or more (e.g. 128x96), got {text!r}"
        )
    return int(height), int(width)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=Path("data/synthetic_mpv"), help="a synthetic set (vton-data synth)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help=f"where to write it (default: torch's cache/{ATTRIBUTE_CLASSIFIER_FILE})"
    )
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--lr", type=float, default=LEARNING_RATE)
    parser.add_argument("--input-size", type=parse_size, default=INPUT_SIZE, help="what the network sees, HxW")
    parser.add_argument("--width", type=int, default=16, help="channels of the first stage")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = args.out if args.out is not None else weights_folder() / ATTRIBUTE_CLASSIFIER_FILE
    start = time.perf_counter()
    try:
        train_records, test_records = dataset_attributes(args.root, "train"), dataset_attributes(args.root, "test")
    except UserInputError as error:
        print(f"train_attribute_classifier: {error}", file=sys.stderr)
        return 2
    if not train_records or not test_records:
        print(f"train_attribute_classifier: {args.root} has {len(train_records)} train and {len(test_records)} test "
              "images with attributes; both splits need some", file=sys.stderr)  # fmt: skip
        return 2
    train_images = load_images(args.root, train_records, args.input_size)
    test_images = load_images(args.root, test_records, args.input_size)
    loaded = time.perf_counter()
    torch.manual_seed(args.seed)
    model = AttributeClassifier(ATTRIBUTE_NAMES, GROUP_SIZES, args.input_size, args.width)
    losses = train(model, train_images, targets(train_records), args.epochs, args.batch_size, args.lr, args.seed)
    trained = time.perf_counter()
    figures = evaluate(model, test_images, test_records)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_attribute_classifier(model, out, ATTRIBUTE_NAMES, GROUP_SIZES, to_model_range(test_images[:2]))
    report = {
        "root": str(args.root), "train_images": len(train_records), "test_images": len(test_records),
        "epoch_losses": [round(v, 4) for v in losses], "test": {k: round(v, 4) for k, v in figures.items()},
        "seconds": {"load": round(loaded - start, 1), "train": round(trained - loaded, 1)}, "out": str(out),
    }  # fmt: skip
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
