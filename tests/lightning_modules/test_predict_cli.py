"""``vton predict -c configs/e2e.yaml --data.predict_list LIST``: the chain's results and grids, written by the
config's ``PredictionWriter``, from a list over the tiny synthetic set; a list naming a missing file fails clearly."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import default_collate

from contract.errors import DatasetFormatError
from datamodules.predict_list import PredictionList
from lightning_modules.cli import run_cli as vton
from lightning_modules.pipeline import TryOnPipeline

REPO = Path(__file__).resolve().parents[2]
# (person, target-pose person, cloth) stems of the synthetic test split: 3 rows = one batch of 2 and one of 1.
ROWS = [
    ("SYN500000", "SYN500001", "SYNC500000A@0=cloth_front"),
    ("SYN500001", "SYN500002", "SYNC500001A@0=cloth_front"),
    ("SYN500002", "SYN500000", "SYNC500002A@0=cloth_front"),
]


@pytest.fixture(scope="module")
def chain(chain_args) -> list[str]:
    """The e2e overrides of ``chain_args``, reading the synthetic parsings with their CIHP ids."""
    return [*chain_args, "--data.reader_options", "{parse_label_set: cihp}"]


def person_file(root: Path, stem: str) -> Path:
    return next((root / "images").glob(f"{stem}-*.jpg"))


def write_list(folder: Path, root: Path, missing_person: bool = False) -> Path:
    """``folder/list.csv`` over the synthetic MPV test persons at ``root`` (absolute paths)."""
    lines = ["person,cloth,pose,person_pose,parsing,cloth_mask,name"]
    for i, (person, target, cloth) in enumerate(ROWS):
        image = person_file(root, person).relative_to(root)
        pose = f"pose_coco/{person_file(root, target).stem}_keypoints.json"
        person_pose = f"pose_coco/{image.stem}_keypoints.json"
        if missing_person and i == 1:
            image = Path("images/nobody.jpg")
        files = [image, f"cloth_image/{cloth}.jpg", pose, person_pose, f"parse_cihp/{image.stem}.png",
                 f"cloth_mask/{cloth}_mask.png"]  # fmt: skip
        lines.append(",".join([*(str(root / file) for file in files), f"tryon_{i}"]))
    path = folder / "list.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_predict_writes_each_rows_result_and_grid(
    tmp_path, monkeypatch, chain_checkpoints, chain, tiny_synthetic_roots
) -> None:
    root = tiny_synthetic_roots["mpv"]
    listed = write_list(tmp_path, root)
    monkeypatch.chdir(tmp_path)
    vton(["predict", "-c", str(REPO / "configs/e2e.yaml"), *chain, "--data.predict_list", str(listed)])
    out = tmp_path / "outputs/e2e/predictions"
    names = [f"tryon_{i}.png" for i in range(len(ROWS))]
    assert sorted(p.name for p in out.glob("*.png")) == names
    assert sorted(p.name for p in (out / "grids").glob("*.png")) == names
    for name in names:
        assert np.array(Image.open(out / "grids" / name)).shape == (2 + 64 + 2, 2 + 4 * (48 + 2), 3)
    # The written result is the chain's (eval mode) output for that row, to 8-bit rounding.
    samples = PredictionList(listed, image_size=(64, 48), parse_label_set="cihp", required=("person_pose", "parsing"))
    paths = {f"{name}_checkpoint": str(path) for name, path in chain_checkpoints.items()}
    model = TryOnPipeline(image_size=(64, 48), **paths).eval()
    with torch.no_grad():
        expected = model(default_collate([samples[2]]))["result"][0]
    expected = ((expected.clamp(-1, 1) + 1) / 2 * 255).permute(1, 2, 0).numpy()
    written = np.array(Image.open(out / "tryon_2.png")).astype(np.float32)
    assert written.shape == (64, 48, 3)
    np.testing.assert_allclose(written, expected, atol=1.0)
    assert written.std() > 1.0  # a picture, not a constant


def test_a_missing_listed_file_names_the_list_and_line(tmp_path, monkeypatch, chain, tiny_synthetic_roots) -> None:
    listed = write_list(tmp_path, tiny_synthetic_roots["mpv"], missing_person=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetFormatError, match=rf"{re.escape(str(listed))}:3: .*nobody\.jpg"):
        vton(["predict", "-c", str(REPO / "configs/e2e.yaml"), *chain, "--data.predict_list", str(listed)])
    assert not (tmp_path / "outputs/e2e/predictions").exists()


def test_predict_over_a_pose_folder_writes_the_frames_and_a_gif(
    tmp_path, monkeypatch, chain, tiny_synthetic_roots
) -> None:
    root = tiny_synthetic_roots["mpv"]
    person, _, cloth = ROWS[0]
    image = person_file(root, person)
    frames = tmp_path / "poses"
    frames.mkdir()
    for t, (target, _, _) in enumerate(ROWS):  # three poses of the synthetic test persons, in order
        shutil.copy(root / f"pose_coco/{person_file(root, target).stem}_keypoints.json", frames / f"{t:02d}.json")
    files = [image, root / f"cloth_image/{cloth}.jpg", frames, root / f"pose_coco/{image.stem}_keypoints.json",
             root / f"parse_cihp/{image.stem}.png", root / f"cloth_mask/{cloth}_mask.png"]  # fmt: skip
    listed = tmp_path / "list.csv"
    listed.write_text("person,cloth,pose,person_pose,parsing,cloth_mask,name\n" + ",".join(map(str, files)) + ",walk\n")
    monkeypatch.chdir(tmp_path)
    vton(["predict", "-c", str(REPO / "configs/e2e.yaml"), *chain, "--data.predict_list", str(listed)])
    out = tmp_path / "outputs/e2e/predictions"
    assert sorted(p.name for p in (out / "walk").glob("*.png")) == ["00.png", "01.png", "02.png"]
    pngs = [np.array(Image.open(out / "walk" / f"{t:02d}.png")) for t in range(3)]
    assert all((pngs[a] != pngs[b]).any() for a, b in ((0, 1), (0, 2), (1, 2)))  # the poses change the result
    with Image.open(out / "walk.gif") as gif:
        assert gif.n_frames == 3 and gif.info["duration"] == 100 and gif.info["loop"] == 0
        for t in range(3):
            gif.seek(t)
            # Frame t is PNG t, exactly: the tiny chain's results have fewer than 256 colours.
            np.testing.assert_array_equal(np.array(gif.convert("RGB")), pngs[t])


def test_predict_on_an_mpv_demo_list_writes_what_the_equivalent_csv_list_gives(
    tmp_path, monkeypatch, chain_args, tiny_synthetic_roots
) -> None:
    """A DTLD ``demo/demo.txt`` (person image, target keypoint JSON, cloth, split) beside ``dataset/`` (the MPV
    root), and the CSV list naming the same files; the parsings' CIHP ids are detected from ``parse_cihp/``."""
    root = tiny_synthetic_roots["mpv"]
    (tmp_path / "dataset").symlink_to(root)
    (tmp_path / "demo").mkdir()
    demo, csv_rows = [], ["person,cloth,pose,person_pose,parsing,cloth_mask"]
    for person, target, cloth in ROWS:
        image, pose = person_file(root, person), f"{person_file(root, target).stem}_keypoints.json"
        demo.append(f"{image.name}\t{pose}\t{cloth}.jpg\ttest")
        files = [image, root / f"cloth_image/{cloth}.jpg", root / f"pose_coco/{pose}",
                 root / f"pose_coco/{image.stem}_keypoints.json", root / f"parse_cihp/{image.stem}.png",
                 root / f"cloth_mask/{cloth}_mask.png"]  # fmt: skip
        csv_rows.append(",".join(map(str, files)))
    (tmp_path / "demo/demo.txt").write_text("\n".join(demo) + "\n")
    (tmp_path / "list.csv").write_text("\n".join(csv_rows) + "\n")
    written = {}
    for listed in ("demo/demo.txt", "list.csv"):
        run = tmp_path / f"run_{Path(listed).stem}"
        run.mkdir()
        monkeypatch.chdir(run)
        vton(["predict", "-c", str(REPO / "configs/e2e.yaml"), *chain_args, "--data.predict_list", f"../{listed}"])
        out = run / "outputs/e2e/predictions"
        written[listed] = {p.name: np.array(Image.open(p)) for p in sorted(out.glob("*.png"))}
    assert len(written["demo/demo.txt"]) == len(ROWS)
    assert written["demo/demo.txt"].keys() == written["list.csv"].keys()
    for name, result in written["demo/demo.txt"].items():
        np.testing.assert_array_equal(result, written["list.csv"][name])
