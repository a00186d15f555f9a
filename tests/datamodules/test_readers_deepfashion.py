"""DeepFashion reader on trimmed real pose-gan CSVs (``tests/fixtures/deepfashion``, 256x256 frame, ``fasion``
spelling). There are no real DeepFashion images to copy, so each test draws small images named in PATN's ``fashion``
spelling (with category underscores) and marks the nose joint of the CSV with a red square, which must land under the
loaded nose keypoint in every frame/crop combination."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from contract.errors import DatasetFormatError
from datamodules.readers.deepfashion import DeepFashionReader, normalize_name

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "deepfashion"
PATN_CATEGORY = {"BlousesShirts": "Blouses_Shirts", "SweatshirtsHoodies": "Sweatshirts_Hoodies"}
SOURCE = "fasionWOMENBlousesShirtsid0000130601_2side.jpg"  # first pair of the fixture


def annotation_rows() -> dict[str, tuple[list[int], list[int]]]:
    lines = (FIXTURE / "fasion-annotation-test.csv").read_text().splitlines()[1:]
    return {name: (json.loads(ys), json.loads(xs)) for name, ys, xs in (line.split(":") for line in lines)}


def patn_name(name: str) -> str:
    """pose-gan name -> the same image in PATN's spelling (``fashion``, category underscores)."""
    for joined, underscored in PATN_CATEGORY.items():
        name = name.replace(joined, underscored)
    return name.replace("fasion", "fashion", 1)


def make_root(tmp_path: Path, width: int = 256, height: int = 256, csv_name: str = "fasion-annotation-test.csv",
              shift_csv: int = 0) -> Path:  # fmt: skip
    """Images of the fixture's persons (256x256 In-shop frame, cropped to columns 40..215 when ``width`` is 176),
    a red 5x5 square at each nose; the CSV copied under ``csv_name`` with x shifted by ``shift_csv``."""
    root = tmp_path / "deepfashion"
    (root / "test").mkdir(parents=True)
    shutil.copy(FIXTURE / "fasion-pairs-test.csv", root)
    lines = ["name:keypoints_y:keypoints_x"]
    for name, (ys, xs) in annotation_rows().items():
        moved = [x + shift_csv if x >= 0 else x for x in xs]
        lines.append(f"{name}: {ys}: {moved}")
        frame = np.full((256, 256, 3), 255, np.uint8)
        if ys[0] >= 0:
            frame[ys[0] - 2 : ys[0] + 3, xs[0] - 2 : xs[0] + 3] = (255, 0, 0)
        image = frame[:, 40:216] if width == 176 else frame
        Image.fromarray(image).resize((width, height), Image.NEAREST).save(root / "test" / patn_name(name), quality=100)
    (root / csv_name).write_text("\n".join(lines) + "\n")
    return root


def nose_is_red(sample: dict) -> bool:
    x, y = sample["src_kpts"][0, :2].round().long().tolist()
    red, green = sample["src_img"][0, y, x], sample["src_img"][1, y, x]
    return bool(red > 0.8 and green < -0.6)


def test_normalize_name_joins_spellings():
    assert normalize_name("fashionWOMENBlouses_Shirtsid0000069302_3back.jpg") == "WOMENBlousesShirtsid0000069302_3back"
    assert normalize_name("fasionWOMENBlousesShirtsid0000069302_3back.jpg") == "WOMENBlousesShirtsid0000069302_3back"
    assert normalize_name("img/x/plain.png") == "plain"


def test_pose_gan_csv_on_full_frame_images(tmp_path):
    root = make_root(tmp_path)
    reader = DeepFashionReader(root, "test", image_size=(256, 256))
    records = reader.records
    assert len(records) == 4 and records[0].source.image.name == patn_name(SOURCE)  # joined across spellings
    sample = reader.load(records[0])
    ys, xs = annotation_rows()[SOURCE]
    assert sample["src_kpts"][0].tolist() == [xs[0], ys[0], 1.0]
    assert sample["src_kpts"][4].tolist() == [0.0, 0.0, 0.0]  # -1 in the CSV
    assert nose_is_red(sample)
    assert (sample["meta"]["has_cloth"], sample["meta"]["has_parse"]) == ("0", "0")
    assert sample["cloth"].abs().sum() == 0 and sample["cloth_mask"].sum() == 0 and sample["src_parse"].sum() == 0


def test_crop_176_crops_images_and_shifts_keypoints(tmp_path):
    reader = DeepFashionReader(make_root(tmp_path), "test", image_size=(256, 176), crop_176=True)
    sample = reader.load(reader.records[0])
    ys, xs = annotation_rows()[SOURCE]
    assert sample["src_kpts"][0].tolist() == [xs[0] - 40, ys[0], 1.0]
    assert nose_is_red(sample)


def test_pose_gan_csv_on_stored_176_crops(tmp_path):
    reader = DeepFashionReader(make_root(tmp_path, width=176), "test", image_size=(256, 176))
    sample = reader.load(reader.records[0])
    assert sample["src_kpts"][0, 0] == annotation_rows()[SOURCE][1][0] - 40
    assert nose_is_red(sample)


@pytest.mark.parametrize("width", [176, 256])
def test_resize_csv_is_in_the_crop_frame(tmp_path, width):
    root = make_root(tmp_path, width=width, csv_name="fasion-resize-annotation-test.csv", shift_csv=-40)
    reader = DeepFashionReader(root, "test", image_size=(256, width))
    sample = reader.load(reader.records[0])
    assert sample["src_kpts"][0, 0] == annotation_rows()[SOURCE][1][0] - 40 + (40 if width == 256 else 0)
    assert nose_is_red(sample)


def test_resize_csv_next_to_other_sizes_is_in_image_pixels(tmp_path):
    # Synthetic layout: images of any size with the CSV in their own pixels (here a 64x64 image, no marker check).
    root = make_root(tmp_path, width=64, height=64, csv_name="fashion-resize-annotation-test.csv")
    reader = DeepFashionReader(root, "test", image_size=(64, 64))
    kpts = reader.load(reader.records[0])["src_kpts"]
    assert kpts[0, :2].tolist() == [annotation_rows()[SOURCE][1][0], annotation_rows()[SOURCE][0][0]]


def test_synthetic_resize_csv_is_in_image_pixels_even_at_256x256(tmp_path):
    root = make_root(tmp_path, csv_name="fasion-resize-annotation-test.csv")
    (root / "synthetic_gt").mkdir()
    for line in (root / "fasion-pairs-test.csv").read_text().splitlines()[1:]:
        stems = [Path(patn_name(name)).stem for name in line.split(",")]
        flow, vis = np.zeros((2, 256, 256), np.float32), np.ones((256, 256), np.uint8)
        np.savez_compressed(root / "synthetic_gt" / f"{stems[0]}__{stems[1]}.npz", flow=flow, vis=vis)
    reader = DeepFashionReader(root, "test", image_size=(256, 256))
    sample = reader.load(reader.records[0])
    assert sample["src_kpts"][0, 0] == annotation_rows()[SOURCE][1][0]
    assert nose_is_red(sample) and sample["vis_gt"].sum() == 256 * 256


def test_256_frame_needs_a_256_or_176_wide_image(tmp_path):
    root = make_root(tmp_path, width=200)
    reader = DeepFashionReader(root, "test", image_size=(64, 48))
    with pytest.raises(DatasetFormatError) as info:
        reader.load(reader.records[0])
    assert str(info.value) == (
        f"{root}/test/{patn_name(SOURCE)}: size 200x256 (WxH) is neither the 256x256 In-shop frame nor its 176x256 "
        "crop, so keypoints given in the 256x256 frame cannot be placed (annotation_frame='image' reads them in the "
        "image's own pixels)"
    )


def test_index_column_garment_column_and_parsing(tmp_path):
    root = make_root(tmp_path)
    garment = np.full((256, 256, 3), 255, np.uint8)
    garment[100:150, 60:200] = (40, 90, 160)
    Image.fromarray(garment).save(root / "test" / "fashionWOMENSweatersid0000221203_6flat.png")
    pairs = [",from,to,garment"] + [
        f"{i},{line},fasionWOMENSweatersid0000221203_6flat.png"
        for i, line in enumerate((FIXTURE / "fasion-pairs-test.csv").read_text().splitlines()[1:])
    ]
    (root / "fasion-pairs-test.csv").write_text("\n".join(pairs) + "\n")
    (root / "testM_lip").mkdir()
    parse = np.zeros((256, 256), np.uint8)
    parse[:, 100:] = 5
    for name in annotation_rows():
        Image.fromarray(parse).save(root / "testM_lip" / f"{Path(patn_name(name)).stem}.png")
    reader = DeepFashionReader(root, "test", image_size=(256, 176), crop_176=True)
    sample = reader.load(reader.records[0])
    assert (sample["meta"]["has_cloth"], sample["meta"]["has_parse"]) == ("1", "1")
    expected_mask = torch.zeros(256, 176)
    expected_mask[100:150, 20:160] = 1  # garment columns 60..199 after the 40-column crop
    assert torch.equal(sample["cloth_mask"][0], expected_mask)
    assert (sample["src_parse"][:, :60] == 0).all() and (sample["src_parse"][:, 60:] == 5).all()
    # A parsing folder that lacks a person's map is a problem, not a silent all-zero parsing.
    (root / "testM_lip" / f"{Path(patn_name(SOURCE)).stem}.png").unlink()
    scan = DeepFashionReader(root, "test").scan()
    assert scan.problems[0] == f"{root}/fasion-pairs-test.csv:2: parsing of '{SOURCE}' not found in {root}/testM_lip"


def test_all_missing_row_gives_zero_keypoints_and_maps(tmp_path):
    root = make_root(tmp_path)
    with (root / "fasion-pairs-test.csv").open("a") as pairs:
        pairs.write(f"fasionWOMENShortsid0000210402_3back.jpg,{SOURCE}\n")
    reader = DeepFashionReader(root, "test", image_size=(64, 64))
    sample = reader.load(reader.records[-1])
    assert sample["src_kpts"].abs().sum() == 0 and sample["src_pose"].abs().sum() == 0
    assert sample["tgt_kpts"][:, 2].sum() > 0


def test_csv_problems_name_file_and_line(tmp_path):
    root = make_root(tmp_path)
    annotation = root / "fasion-annotation-test.csv"
    lines = annotation.read_text().splitlines()
    name, ys, xs = lines[5].split(":")  # the row of SOURCE
    assert name == SOURCE
    lines[5] = f"{name}: {json.loads(ys)[:17]}: {xs}"
    annotation.write_text("\n".join(lines) + "\n")
    with (root / "fasion-pairs-test.csv").open("a") as pairs:
        pairs.write(f"{SOURCE},fasionMENDenimid0000000001_1front.jpg\n")
        pairs.write("only-one-column.jpg\n")
    scan = DeepFashionReader(root, "test").scan()
    pairs_csv = root / "fasion-pairs-test.csv"
    assert scan.problems == [
        f"{annotation}:6: expected 18 keypoints, got 17 y and 18 x values",
        f"{pairs_csv}:7: expected 2 columns (from,to), got 1",
        f"{pairs_csv}:2: keypoints of '{SOURCE}' unusable: {annotation}:6 is malformed",
        f"{pairs_csv}:6: keypoints of '{SOURCE}' unusable: {annotation}:6 is malformed",
        f"{pairs_csv}:6: image 'fasionMENDenimid0000000001_1front.jpg' not found in {root}/test",
        f"{pairs_csv}:6: 'fasionMENDenimid0000000001_1front.jpg' has no keypoint row in {annotation}",
    ]
    assert len(scan.records) == 3 and scan.dropped == 3


def test_header_and_ambiguous_csvs_are_reported(tmp_path):
    root = make_root(tmp_path)
    (root / "fasion-pairs-test.csv").write_text("source,target\na.jpg,b.jpg\n")
    with pytest.raises(DatasetFormatError) as info:
        _ = DeepFashionReader(root, "test").records
    assert str(info.value) == (
        f"{root}/fasion-pairs-test.csv:1: expected the header 'from,to' or 'from,to,garment' (optionally after an "
        "index column), got 'source,target'"
    )
    shutil.copy(root / "fasion-annotation-test.csv", root / "fashion-resize-annotation-test.csv")
    with pytest.raises(DatasetFormatError) as info:
        _ = DeepFashionReader(root, "test").records
    assert str(info.value) == (
        f"{root}: expected one fa(s)hion-[resize-]annotation-test.csv (found: fashion-resize-annotation-test.csv, "
        "fasion-annotation-test.csv); choose with the reader option annotation_csv"
    )
    reader = DeepFashionReader(root, "test", annotation_csv="fasion-annotation-test.csv", pairs_csv="none.csv")
    with pytest.raises(DatasetFormatError, match=f"{root}/none.csv: file not found"):
        _ = reader.records
