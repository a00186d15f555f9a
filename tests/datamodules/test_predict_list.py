"""``PredictionList`` (``datamodules/predict_list.py``): list columns, poses from CSV or OpenPose JSON, the cloth
mask rule, and errors naming the list file and line."""

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from contract.errors import DatasetFormatError
from datamodules.predict_list import PredictionList, read_keypoint_csv

MPV = Path(__file__).resolve().parents[1] / "fixtures" / "mpv"
PERSON = "1LJ21D005-G11@10=person_half_front"
CLOTH = "1VJ21D02B-Q11@10.1=cloth_front"


def keypoints(shift: float = 0.0) -> list[tuple[float, float, int]]:
    """18 joints inside a 64x48 image; joint 3 missing."""
    return [(0.0, 0.0, 0) if j == 3 else (5.0 + 2 * j + shift, 4.0 + 3 * j, 1) for j in range(18)]


def write_keypoint_csv(path: Path, rows, header: bool = True) -> Path:
    lines = (["x,y,visibility"] if header else []) + [f"{x},{y},{v}" for x, y, v in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """A 64x48 person, a cloth (red block on white), target and source poses as CSV and JSON."""
    Image.new("RGB", (48, 64), (90, 120, 150)).save(tmp_path / "person.png")
    cloth = Image.new("RGB", (48, 64), (255, 255, 255))
    cloth.paste((200, 10, 10), (8, 16, 40, 48))  # box (left, top, right, bottom)
    cloth.save(tmp_path / "cloth.png")
    write_keypoint_csv(tmp_path / "walk.csv", keypoints(shift=1.0))
    flat = [v for x, y, vis in keypoints() for v in (x, y, float(vis))]
    (tmp_path / "person_keypoints.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": flat}]}))
    return tmp_path


def write_list(folder: Path, text: str) -> Path:
    path = folder / "list.csv"
    path.write_text(text)
    return path


def test_sample_has_the_poses_the_cloth_mask_and_the_output_name(inputs: Path) -> None:
    rows = "person,cloth,pose,person_pose\nperson.png,cloth.png,walk.csv,person_keypoints.json\n"
    sample = PredictionList(write_list(inputs, rows), image_size=(64, 48))[0]
    expected_target = torch.tensor(keypoints(shift=1.0), dtype=torch.float32)
    assert torch.equal(sample["tgt_kpts"], expected_target)  # same size: no rescaling
    assert torch.equal(sample["src_kpts"], torch.tensor(keypoints(), dtype=torch.float32))
    assert sample["tgt_pose"][3].sum() == 0 and sample["tgt_pose"][0, 4, 6] == 1  # missing joint / disk at (6, 4)
    box = torch.zeros(64, 48)
    box[16:48, 8:40] = 1
    assert torch.equal(sample["cloth_mask"][0], box)  # the non-white area
    assert sample["meta"]["name"] == "person_cloth_walk" and sample["meta"]["has_parse"] == "0"
    assert not {"tgt_img", "tgt_parse", "tgt_masks"} & set(sample)
    assert sample["src_img"][:, 0, 0].tolist() == pytest.approx([90 / 127.5 - 1, 120 / 127.5 - 1, 150 / 127.5 - 1])


def test_real_mpv_files_with_parsing_mask_and_openpose_json_resize_together(tmp_path: Path) -> None:
    rows = (
        "person,cloth,pose,person_pose,parsing,cloth_mask,name\n"
        f"{MPV}/images/{PERSON}.jpg,{MPV}/cloth_image/{CLOTH}.jpg,{MPV}/pose_coco/{PERSON}_keypoints.json,"
        f"{MPV}/pose_coco/{PERSON}_keypoints.json,{MPV}/parse_cihp/{PERSON}.png,"
        f"{MPV}/cloth_mask/{CLOTH}_mask.png,first\n"
    )
    dataset = PredictionList(write_list(tmp_path, rows), image_size=(64, 48), parse_label_set="cihp")
    sample = dataset[0]
    assert torch.equal(sample["tgt_kpts"], sample["src_kpts"])  # same JSON, same frame
    visible = sample["tgt_kpts"][:, 2] > 0
    assert visible.any() and (sample["tgt_kpts"][visible, 0] < 48).all()  # rescaled from 192 to 48 wide
    assert sample["src_parse"].max() > 0 and sample["meta"]["has_parse"] == "1"
    assert torch.equal(sample["src_masks"]["cloth"][0] > 0, torch.isin(sample["src_parse"], torch.tensor([5, 6, 7])))
    assert set(sample["cloth_mask"].unique().tolist()) == {0.0, 1.0} and sample["meta"]["name"] == "first"


def test_missing_file_names_the_list_line_and_the_file(inputs: Path) -> None:
    rows = "person,cloth,pose\nperson.png,cloth.png,walk.csv\nperson.png,nothing.png,walk.csv\n"
    with pytest.raises(DatasetFormatError, match=r"list\.csv:3: cloth not found: .*nothing\.png"):
        PredictionList(write_list(inputs, rows), image_size=(64, 48))


def test_wrong_keypoint_count_names_the_list_line_and_the_pose_file(inputs: Path) -> None:
    write_keypoint_csv(inputs / "short.csv", keypoints()[:17])
    rows = "person,cloth,pose\nperson.png,cloth.png,short.csv\n"
    dataset = PredictionList(write_list(inputs, rows), image_size=(64, 48))
    with pytest.raises(DatasetFormatError, match=r"list\.csv:2: .*short\.csv: expected 18 keypoint rows .*got 17"):
        dataset[0]


def test_size_mismatches_are_errors(inputs: Path) -> None:
    Image.new("L", (24, 32)).save(inputs / "small_parse.png")
    rows = "person,cloth,pose,parsing\nperson.png,cloth.png,walk.csv,small_parse.png\n"
    with pytest.raises(DatasetFormatError, match=r"list\.csv:2: .*small_parse\.png: size 24x32 .*its person image"):
        PredictionList(write_list(inputs, rows), image_size=(64, 48))[0]
    write_keypoint_csv(inputs / "big.csv", [(x * 4, y * 4, v) for x, y, v in keypoints()])  # pose of a 4x image
    rows = "person,cloth,pose\nperson.png,cloth.png,big.csv\n"
    with pytest.raises(DatasetFormatError, match=r"big\.csv: keypoints span .* outside the person image \(48x64\)"):
        PredictionList(write_list(inputs, rows), image_size=(64, 48))[0]


def test_header_required_columns_and_duplicate_names(inputs: Path) -> None:
    with pytest.raises(DatasetFormatError, match=r"list\.csv:1: header .*missing \['pose'\], unknown \['pse'\]"):
        PredictionList(write_list(inputs, "person,cloth,pse\n"))
    rows = "person,cloth,pose,parsing\nperson.png,cloth.png,walk.csv,\n"
    with pytest.raises(DatasetFormatError, match=r"list\.csv:2: column 'parsing' is empty; this chain needs it"):
        PredictionList(write_list(inputs, rows), required=("parsing",))
    rows = "person,cloth,pose\nperson.png,cloth.png,walk.csv\nperson.png,cloth.png,walk.csv\n"
    with pytest.raises(DatasetFormatError, match=r"list\.csv:3: output name 'person_cloth_walk' repeats .*list\.csv:2"):
        PredictionList(write_list(inputs, rows))


def test_keypoint_csv_rules(tmp_path: Path) -> None:
    path = write_keypoint_csv(tmp_path / "k.csv", keypoints(), header=False)
    assert read_keypoint_csv(path)[3].tolist() == [0.0, 0.0, 0.0] and read_keypoint_csv(path)[0, 2] == 1
    bad = [*keypoints()[:17], (1.0, 2.0, 2)]
    with pytest.raises(DatasetFormatError, match=r"k2\.csv:19: expected finite x, y and visibility 0 or 1"):
        read_keypoint_csv(write_keypoint_csv(tmp_path / "k2.csv", bad))


def write_openpose(path: Path, rows) -> Path:
    flat = [v for x, y, vis in rows for v in (x, y, float(vis))]
    path.write_text(json.dumps({"people": [{"pose_keypoints_2d": flat}]}))
    return path


def test_a_pose_folder_expands_to_one_sample_per_frame_in_file_name_order(inputs: Path) -> None:
    frames = inputs / "walk"
    frames.mkdir()
    for shift in (2, 0, 1):  # written out of order: the file names give the order
        write_openpose(frames / f"{shift:04d}_keypoints.json", keypoints(shift=float(shift)))
    rows = "person,cloth,pose,person_pose,name\nperson.png,cloth.png,walk.csv,person_keypoints.json,single\n"
    rows += "person.png,cloth.png,walk,person_keypoints.json,\n"
    dataset = PredictionList(write_list(inputs, rows), image_size=(64, 48))
    assert len(dataset) == 4
    assert dataset[0]["meta"]["sequence"] == "" and dataset[0]["meta"]["frame"] == ""
    for index in range(3):
        sample = dataset[1 + index]
        assert sample["meta"]["name"] == f"person_cloth_walk/{index:04d}_keypoints"
        assert sample["meta"]["sequence"] == "person_cloth_walk" and sample["meta"]["frame"] == str(index)
        assert torch.equal(sample["tgt_kpts"], torch.tensor(keypoints(shift=float(index)), dtype=torch.float32))
        assert torch.equal(sample["src_kpts"], dataset[0]["src_kpts"])  # the row's person pose for every frame
        assert torch.equal(sample["src_img"], dataset[0]["src_img"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({}, r"pose folder .*dance is empty"),
        ({"0000.json": "ok", "notes.txt": "x"}, r"pose folder .*dance holds 'notes\.txt'; .*only OpenPose \.json"),
        ({"0000.json": "ok", "0001.json": "{not json"}, r"\S*dance/0001\.json: invalid JSON"),
    ],
)
def test_a_bad_pose_folder_names_the_list_line_and_the_file(inputs: Path, content: dict, message: str) -> None:
    frames = inputs / "dance"
    frames.mkdir()
    for name, text in content.items():
        if text == "ok":
            write_openpose(frames / name, keypoints())
        else:
            (frames / name).write_text(text)
    rows = "person,cloth,pose\nperson.png,cloth.png,walk.csv\nperson.png,cloth.png,dance\n"
    with pytest.raises(DatasetFormatError, match=r"list\.csv:3: " + message):
        PredictionList(write_list(inputs, rows), image_size=(64, 48))
