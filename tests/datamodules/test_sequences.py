"""Pose-sequence windows: frame order, worker independence, ground-truth flow, the video layout, bad input."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader

from contract.errors import DatasetFormatError
from contract.flow import warp
from datamodules.sequences import SequenceDataModule, SequenceDataset, SyntheticSequenceReader, VideoSequenceReader
from datamodules.synthetic.dataset import SynthConfig, synthesize

SIZE = (64, 48)


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory) -> Path:
    """2 train sequences and 1 test sequence of 6 frames at 64x48."""
    root = tmp_path_factory.mktemp("sequences")
    synthesize(SynthConfig(out=str(root), n_train=0, n_test=0, n_seq=2, n_seq_test=1, seq_len=6, height=64, width=48))
    return root


@pytest.fixture
def root(synthetic_root: Path, tmp_path: Path) -> Path:
    """A writable copy of the synthetic set."""
    return Path(shutil.copytree(synthetic_root, tmp_path / "copy"))


def test_windows_are_consecutive_frames_in_order(synthetic_root):
    dataset = SequenceDataset(SyntheticSequenceReader(synthetic_root, "train", image_size=SIZE), n_frames=3, stride=2)
    # 6 frames, windows of 3 every 2 frames: starts 0 and 2 in each of the 2 train sequences.
    assert [(seq.name, start) for seq, start in dataset.windows] == [
        ("SEQ000000", 0), ("SEQ000000", 2), ("SEQ000001", 0), ("SEQ000001", 2),
    ]  # fmt: skip
    sample = dataset[1]
    assert sample["frame_index"].tolist() == [2, 3, 4]
    assert sample["meta"]["frames"] == "0002,0003,0004"
    for t, frame in enumerate((2, 3, 4)):
        path = synthetic_root / "sequences" / "SEQ000000" / "image" / f"{frame:04d}.jpg"
        stored = torch.from_numpy(np.array(Image.open(path))).permute(2, 0, 1).float() / 127.5 - 1.0
        assert torch.allclose(sample["img"][t], stored)  # frame t of the window is file 2 + t, unresized
    assert torch.equal(sample["masks"]["background"][:, 0], (sample["parse"] == 0).float())
    assert sample["flow_gt"].shape == (2, 2, *SIZE) and sample["vis_gt"].shape == (2, *SIZE)


def test_two_workers_give_the_batches_of_zero_workers(synthetic_root):
    dataset = SequenceDataset(SyntheticSequenceReader(synthetic_root, "train", image_size=SIZE), n_frames=4, stride=1)
    batches = [list(DataLoader(dataset, batch_size=2, num_workers=workers)) for workers in (0, 2)]
    assert len(batches[0]) == len(batches[1]) == 3  # 2 sequences x 3 windows, batches of 2
    for serial, parallel in zip(*batches, strict=True):
        assert torch.equal(serial["frame_index"], parallel["frame_index"])
        assert serial["meta"]["frames"] == parallel["meta"]["frames"]
        assert torch.equal(serial["img"], parallel["img"])
        assert torch.equal(serial["flow_gt"], parallel["flow_gt"])
    starts = torch.cat([batch["frame_index"][:, 0] for batch in batches[1]]).tolist()
    assert starts == [0, 1, 2, 0, 1, 2]
    assert all((torch.diff(batch["frame_index"], dim=1) == 1).all() for batch in batches[1])


def test_ground_truth_flow_warps_each_frame_onto_the_next(tmp_path):
    """At the native 256x192: ``warp(img[t-1], flow_gt[t-1])`` equals ``img[t]`` where visible (edges eroded)."""
    synthesize(SynthConfig(out=str(tmp_path), n_train=0, n_test=0, n_seq=1, seq_len=3))
    sample = SequenceDataset(SyntheticSequenceReader(tmp_path, "train", image_size=(256, 192)), n_frames=3)[0]
    warped = warp(sample["img"][:-1], sample["flow_gt"])
    visible = (sample["vis_gt"] == 1).float()[:, None]
    interior = -F.max_pool2d(-visible, kernel_size=5, stride=1, padding=2)  # erode by 2 px: no boundary pixels
    assert interior.sum() > 1000
    errors = ((warped - sample["img"][1:]).abs() * interior).sum(dim=(1, 2, 3)) / (3 * interior.sum(dim=(1, 2, 3)))
    assert (errors < 0.03).all(), errors
    still = ((sample["img"][:-1] - sample["img"][1:]).abs() * interior).sum(dim=(1, 2, 3)) / (3 * interior.sum())
    assert (still > errors).all()  # the flow is needed: the frames themselves differ more


def write_video(root: Path, names: list[str], keypoints: dict[str, list[float]], size=(40, 30)) -> Path:
    """A video folder under ``root/train/clip``: one flat-colour frame per name, OpenPose JSON, cloth and mask."""
    video = root / "train" / "clip"
    (video / "frames").mkdir(parents=True)
    (video / "openpose").mkdir()
    for i, name in enumerate(names):
        Image.fromarray(np.full((*size, 3), 20 * i, np.uint8)).save(video / "frames" / f"{name}.png")
        people = [{"pose_keypoints_2d": keypoints[name]}]
        (video / "openpose" / f"{name}_keypoints.json").write_text(json.dumps({"people": people}))
    Image.fromarray(np.full((*size, 3), 200, np.uint8)).save(video / "cloth.jpg")
    Image.fromarray(np.full(size, 255, np.uint8)).save(video / "cloth_mask.png")
    return video


def body25(x: float, y: float) -> list[float]:
    """BODY_25 values with only the nose (BODY_25 0 = COCO 0) and the right wrist (BODY_25 4 = COCO 4) visible."""
    values = [0.0] * 75
    values[0:3] = [x, y, 0.9]
    values[12:15] = [x + 4, y + 6, 0.8]
    return values


def test_video_layout_orders_frames_by_number_and_reads_keypoints(tmp_path):
    names = ["frame_9", "frame_10", "frame_11"]  # natural order, not string order
    write_video(tmp_path, names, {name: body25(5.0 + i, 7.0) for i, name in enumerate(names)})
    reader = VideoSequenceReader(tmp_path, "train", image_size=(80, 60))
    sample = SequenceDataset(reader, n_frames=3)[0]
    assert sample["frame_index"].tolist() == [9, 10, 11]
    assert sample["meta"]["frames"] == "frame_9,frame_10,frame_11"
    assert sample["img"][:, 0, 0, 0].tolist() == pytest.approx([v / 127.5 - 1 for v in (0, 20, 40)])
    # Keypoints rescaled 30x40 -> 60x80 (x' = 2x + 0.5): nose of frame t at x = 5 + t.
    assert sample["kpts"][:, 0].tolist() == [[2 * (5 + t) + 0.5, 14.5, 1.0] for t in range(3)]
    assert sample["kpts"][0, 4].tolist() == [18.5, 26.5, 1.0]
    assert sample["kpts"][:, [1, 2, 3, 5]].abs().sum() == 0  # missing joints stay (0, 0, 0)
    assert sample["pose"][1, 0, 14, 12] == 1 and sample["pose"][1, 0, 14, 20] == 0 and sample["pose"][1, 1].sum() == 0
    assert sample["parse"].abs().sum() == 0 and sample["meta"]["has_parse"] == "0"
    assert sample["cloth_mask"].min() == 1 and "flow_gt" not in sample


def test_datamodule_batches_and_keeps_the_last_partial_batch(synthetic_root):
    module = SequenceDataModule(str(synthetic_root), "synthetic", SIZE, n_frames=2, stride=2, batch_size=2,
                                num_workers=0, shuffle=False)  # fmt: skip
    module.setup("fit")
    train = list(module.train_dataloader())
    assert [batch["img"].shape[0] for batch in train] == [2, 2, 2]  # 2 sequences x 3 windows
    assert train[0]["img"].shape == (2, 2, 3, *SIZE)
    val = list(module.val_dataloader())
    assert [batch["img"].shape[0] for batch in val] == [2, 1]  # 1 test sequence x 3 windows: partial batch kept
    assert [seq.split for seq, _ in module.dataset("test").windows] == ["test"] * 3


def replace_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


def test_bad_sequence_list_lines_name_file_and_line(root):
    listing = root / "sequences" / "sequences.txt"
    replace_line(listing, 2, "SEQ000001 six walk train")
    with pytest.raises(DatasetFormatError, match=re.escape(f"{listing}:2: frame count must be a positive integer")):
        SequenceDataset(SyntheticSequenceReader(root, "train"), n_frames=2)
    replace_line(listing, 2, "SEQ000001 6 walk")
    message = f"{listing}:2: expected 4 columns (seq_id frames kind split), got 3"
    with pytest.raises(DatasetFormatError, match=re.escape(message)):
        SequenceDataset(SyntheticSequenceReader(root, "train"), n_frames=2)


def test_missing_frames_and_gaps_are_named(root):
    listing = root / "sequences" / "sequences.txt"
    images = root / "sequences" / "SEQ000000" / "image"
    (images / "0005.jpg").unlink()
    message = f"{listing}:1: lists 6 frames (0..5) but {images} has 0..4"
    with pytest.raises(DatasetFormatError, match=re.escape(message)):
        SequenceDataset(SyntheticSequenceReader(root, "train"), n_frames=2)
    (images / "0002.jpg").unlink()
    message = f"{listing}:1: gap in frame numbers: 0001.jpg is followed by 0003.jpg"
    with pytest.raises(DatasetFormatError, match=re.escape(message)):
        SequenceDataset(SyntheticSequenceReader(root, "train"), n_frames=2)


def test_missing_pose_and_too_short_sequences_are_named(root):
    listing = root / "sequences" / "sequences.txt"
    pose = root / "sequences" / "SEQ000001" / "pose" / "0003_keypoints.json"
    pose.unlink()
    with pytest.raises(DatasetFormatError, match=re.escape(f"{listing}:2: frame 0003 pose not found: {pose}")):
        SequenceDataset(SyntheticSequenceReader(root, "train"), n_frames=2)
    message = f"{listing}:3: sequence SEQ500000 has 6 frames, fewer than n_frames=7"
    with pytest.raises(DatasetFormatError, match=re.escape(message)):
        SequenceDataset(SyntheticSequenceReader(root, "test"), n_frames=7)


def test_video_frame_gaps_and_missing_json_are_named(tmp_path):
    names = ["0001", "0002", "0004"]
    video = write_video(tmp_path, names, {name: body25(5.0, 7.0) for name in names})
    with pytest.raises(DatasetFormatError, match=re.escape(f"{video}: gap in frame numbers: 0002.png is followed by")):
        SequenceDataset(VideoSequenceReader(tmp_path, "train"), n_frames=2)
    (video / "frames" / "0004.png").rename(video / "frames" / "0003.png")
    (video / "openpose" / "0004_keypoints.json").unlink()
    missing = video / "openpose" / "0003_keypoints.json"
    with pytest.raises(DatasetFormatError, match=re.escape(f"{video}: frame 0003 pose not found: {missing}")):
        SequenceDataset(VideoSequenceReader(tmp_path, "train"), n_frames=2)


def test_shuffled_training_batches_keep_frame_order_with_workers(synthetic_root):
    """The datamodule's training loader (shuffled, distributed sampler): two workers give the batches of none, and
    every window's frames are consecutive and in order."""
    loaders = [
        SequenceDataModule(
            str(synthetic_root), image_size=SIZE, n_frames=3, batch_size=2, num_workers=workers, seed=5
        ).train_dataloader()
        for workers in (0, 2)
    ]
    serial, parallel = (list(loader) for loader in loaders)
    assert len(serial) == len(parallel) == 4  # 2 sequences x 4 windows of 3 frames, batches of 2
    for one, two in zip(serial, parallel, strict=True):
        assert one["meta"]["frames"] == two["meta"]["frames"] and one["meta"]["sequence"] == two["meta"]["sequence"]
        assert torch.equal(one["img"], two["img"])
        assert (torch.diff(two["frame_index"], dim=1) == 1).all()
    starts = [int(i) for batch in parallel for i in batch["frame_index"][:, 0]]
    assert starts != sorted(starts)  # shuffled across windows, yet each window stays in order


def test_a_root_that_does_not_exist_is_named(tmp_path, monkeypatch):
    for layout in ("synthetic", "video"):
        with pytest.raises(DatasetFormatError) as info:
            SequenceDataModule(str(tmp_path / "absent"), layout, SIZE, num_workers=0).setup("fit")
        assert str(info.value) == f"{tmp_path}/absent: does not exist"
    monkeypatch.chdir(tmp_path)  # the default root, before `make data`
    with pytest.raises(DatasetFormatError) as info:
        SequenceDataModule(image_size=SIZE, num_workers=0).setup("fit")
    assert str(info.value) == "data/synthetic_mpv: does not exist; run `make data` to write the built-in synthetic set"
