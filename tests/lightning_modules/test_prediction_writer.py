"""``PredictionWriter`` (``lightning_modules/prediction_writer.py``): through ``Trainer.predict`` on a prediction
list, one result and one grid per sample (the last partial batch included), with the predicted pixels."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch import LightningModule, Trainer
from PIL import Image
from torch.utils.data import DataLoader

from datamodules.predict_list import PredictionList
from lightning_modules.prediction_writer import PredictionWriter


class Inverter(LightningModule):
    """Stand-in chain: the result is the negated person image."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def predict_step(self, batch: dict, batch_idx: int) -> dict:
        return {"result": -batch["src_img"], "meta": batch["meta"]}


@pytest.fixture
def prediction_list(tmp_path: Path) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir()
    rows = ["person,cloth,pose,name"]
    for i in range(3):
        Image.new("RGB", (48, 64), (40 * i, 100, 200)).save(folder / f"p{i}.png")
        rows.append(f"p{i}.png,cloth.png,pose.csv,out{i}")
    Image.new("RGB", (48, 64), (255, 255, 255)).save(folder / "cloth.png")
    (folder / "pose.csv").write_text("\n".join(f"{10 + j},{3 * j},1" for j in range(18)) + "\n")
    (folder / "list.csv").write_text("\n".join(rows) + "\n")
    return folder / "list.csv"


def test_predict_writes_every_result_and_grid(prediction_list: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "predictions"
    loader = DataLoader(PredictionList(prediction_list, image_size=(64, 48)), batch_size=2)  # 2 + 1
    trainer = Trainer(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[PredictionWriter(str(out_dir))],
    )
    trainer.predict(Inverter(), loader, return_predictions=False)
    assert sorted(p.name for p in out_dir.glob("*.png")) == ["out0.png", "out1.png", "out2.png"]
    assert sorted(p.name for p in (out_dir / "grids").glob("*.png")) == ["out0.png", "out1.png", "out2.png"]
    result = np.array(Image.open(out_dir / "out2.png"))
    assert result.shape == (64, 48, 3) and tuple(result[0, 0]) == (255 - 80, 155, 55)  # the negated person
    grid = np.array(Image.open(out_dir / "grids" / "out2.png"))
    assert grid.shape == (2 + 64 + 2, 2 + 4 * (48 + 2), 3)  # person | cloth | target pose | result
    assert tuple(grid[2, 2]) == (80, 100, 200) and tuple(grid[2, 2 + 3 * 50]) == (175, 155, 55)
    pose_column = grid[2:66, 2 + 2 * 50 : 2 + 2 * 50 + 48]
    assert pose_column[0, 10].tolist() == [255, 255, 255] and pose_column[32, 40].tolist() == [0, 0, 0]


def test_outputs_without_names_are_a_clear_error(tmp_path: Path) -> None:
    writer = PredictionWriter(str(tmp_path))
    with pytest.raises(ValueError, match=r"expected 'result' \[B, 3, H, W\] and B names in meta\['name'\]"):
        writer.write({"result": torch.zeros(2, 3, 8, 8), "meta": {"name": ["a"]}}, {})
    with pytest.raises(ValueError, match="predict_step must return a dict with 'result'"):
        writer.write(torch.zeros(1, 3, 8, 8), {})


class PoseDrawer(LightningModule):
    """Stand-in chain: the result is the target pose's joints, white on black (two colours: exact in a GIF)."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def predict_step(self, batch: dict, batch_idx: int) -> dict:
        joints = batch["tgt_pose"].amax(1, keepdim=True).expand(-1, 3, -1, -1)
        return {"result": joints * 2.0 - 1.0, "meta": batch["meta"]}


def gif_frames(path: Path) -> list[np.ndarray]:
    with Image.open(path) as gif:
        frames = []
        for index in range(gif.n_frames):
            gif.seek(index)
            frames.append(np.array(gif.convert("RGB")))
        return frames


def test_a_pose_sequence_gives_frame_files_and_a_gif_in_frame_order(prediction_list: Path, tmp_path: Path) -> None:
    folder = prediction_list.parent
    (folder / "dance").mkdir()
    for t in range(3):  # joint j at (4 + 2j + 6t, 3j): each frame a different picture
        flat = [v for j in range(18) for v in (4.0 + 2 * j + 6 * t, 3.0 * j, 1.0)]
        (folder / "dance" / f"f{t}.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": flat}]}))
    prediction_list.write_text(prediction_list.read_text() + "p0.png,cloth.png,dance,seq\n")
    out_dir = tmp_path / "predictions"
    loader = DataLoader(PredictionList(prediction_list, image_size=(64, 48)), batch_size=2)  # frames in 2 batches
    trainer = Trainer(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[PredictionWriter(str(out_dir), frame_duration_ms=70)],
    )
    trainer.predict(PoseDrawer(), loader, return_predictions=False)
    pngs = [out_dir / "seq" / f"f{t}.png" for t in range(3)]
    assert sorted(p.name for p in (out_dir / "seq").iterdir()) == ["f0.png", "f1.png", "f2.png"]
    assert sorted(p.name for p in (out_dir / "grids" / "seq").iterdir()) == ["f0.png", "f1.png", "f2.png"]
    assert sorted(p.name for p in out_dir.glob("*.gif")) == ["seq.gif"]  # single rows make no GIF
    frames = gif_frames(out_dir / "seq.gif")
    assert len(frames) == 3
    for frame, png in zip(frames, pngs, strict=True):
        expected = np.array(Image.open(png))
        assert expected[0, 4 + 6 * int(png.stem[1])].tolist() == [255, 255, 255]  # joint 0 of that frame
        np.testing.assert_array_equal(frame, expected)
    with Image.open(out_dir / "seq.gif") as gif:
        assert gif.info["duration"] == 70 and gif.info["loop"] == 0


def test_animations_order_frames_by_index_and_count_a_repeated_frame_once(tmp_path: Path) -> None:
    writer = PredictionWriter(str(tmp_path))
    shades = {0: 0, 1: 120, 2: 250}
    for index, shade in shades.items():
        Image.new("RGB", (8, 6), (shade, 0, 0)).save(tmp_path / f"{index}.png")
    frames = [("s", index, str(tmp_path / f"{index}.png")) for index in (2, 0, 1, 0)]  # arrival order, 0 twice
    assert writer.write_animations(frames) == [tmp_path / "s.gif"]
    assert [int(frame[0, 0, 0]) for frame in gif_frames(tmp_path / "s.gif")] == [0, 120, 250]
    with pytest.raises(ValueError, match="frame_duration_ms must be positive, got 0"):
        PredictionWriter(str(tmp_path), frame_duration_ms=0)
