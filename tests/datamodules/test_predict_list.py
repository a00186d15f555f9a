"""``PredictionList`` (``datamodules/predict_list.py``): list columns, poses from CSV or OpenPose JSON, the cloth
mask rule, each row's parsing label set, MPV demo lists, and errors naming the list file and line."""

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor

from contract.errors import DatasetFormatError
from datamodules.fashion_datamodule import FashionDataModule
from datamodules.parsing import read_parsing
from datamodules.predict_list import PredictionList, read_keypoint_csv
from datamodules.readers.base import resize_labels

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MPV, VITON, VITON_HD = FIXTURES / "mpv", FIXTURES / "viton", FIXTURES / "viton-hd"
PERSON = "1LJ21D005-G11@10=person_half_front"
CLOTH = "1VJ21D02B-Q11@10.1=cloth_front"
CIHP_PARSE = MPV / "parse_cihp" / f"{PERSON}.png"  # CIHP-PGN ids, with 10 (torso skin)
MPV_FILES = f"{MPV}/images/{PERSON}.jpg,{MPV}/cloth_image/{CLOTH}.jpg,{MPV}/pose_coco/{PERSON}_keypoints.json"


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


def parse_at(path: Path, label_set: str) -> Tensor:
    """The parsing of ``path`` read as ``label_set``, at 64x48 as the samples."""
    return resize_labels(read_parsing(path, label_set), (64, 48))


def test_a_row_naming_cihp_maps_torso_skin_to_background(tmp_path: Path) -> None:
    shutil.copy(CIHP_PARSE, tmp_path / "a_parse.png")  # outside any dataset layout: nothing to detect
    rows = f"person,cloth,pose,parsing,label_set\n{MPV_FILES},a_parse.png,cihp\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 10 is torso skin to CIHP: no warning
        sample = PredictionList(write_list(tmp_path, rows), image_size=(64, 48))[0]
    stored = parse_at(CIHP_PARSE, "lip")
    assert (stored == 10).any()  # 10 survives the resize: the label sets differ at this size
    assert torch.equal(sample["src_parse"], stored.masked_fill(stored == 10, 0))
    assert sample["meta"]["parse_label_set"] == "cihp"


@pytest.mark.parametrize(
    ("dataset", "root", "options", "label_set", "torso_skin"),
    [
        ("mpv", MPV, {}, "cihp", 0),  # DTLD layout: parse_cihp/
        ("mpv", MPV, {"torso_skin_label": 2}, "cihp", 2),
        ("viton-hd", VITON_HD, {}, "cihp", 0),
        ("mpv", MPV, {"parse_label_set": "lip"}, "lip", 10),
        ("mpv", FIXTURES / "no_dataset_here", {}, "lip", 10),  # no MPV layout to resolve auto by
    ],
)
def test_rows_naming_no_set_take_the_data_configs(
    tmp_path: Path, dataset: str, root: Path, options: dict, label_set: str, torso_skin: int
) -> None:
    shutil.copy(CIHP_PARSE, tmp_path / "a_parse.png")
    listed = write_list(
        tmp_path, f"person,cloth,pose,person_pose,parsing\n{MPV_FILES},{MPV_FILES.split(',')[2]},a_parse.png\n"
    )
    dm = FashionDataModule(dataset, str(root), image_size=(64, 48), reader_options=options, predict_list=str(listed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the lip case warns (the test below)
        dm.setup("predict")
    sample = dm.predict_set[0]
    stored = parse_at(CIHP_PARSE, "lip")
    assert torch.equal(sample["src_parse"], stored.masked_fill(stored == 10, torso_skin))
    assert sample["meta"]["parse_label_set"] == label_set


def write_viton_person_with_jumpsuit(root: Path) -> Path:
    """A VITON-layout test person (``image-parse/`` beside ``pose/``) whose LIP parsing holds 10 (jumpsuits)."""
    for folder, name in (("image", "000001_0.jpg"), ("pose", "000001_0_keypoints.json")):
        (root / "test" / folder).mkdir(parents=True)
        shutil.copy(VITON / "test" / folder / name, root / "test" / folder / name)
    labels = np.array(Image.open(VITON / "test/image-parse/000001_0.png"))
    labels[100:200, 40:150] = 10
    (root / "test/image-parse").mkdir()
    Image.fromarray(labels).save(root / "test/image-parse/000001_0.png")
    return root / "test"


def test_a_mixed_list_reads_each_rows_parsing_with_its_datasets_set(tmp_path: Path) -> None:
    viton = write_viton_person_with_jumpsuit(tmp_path / "viton")
    hd = VITON_HD / "test"
    rows = [
        f"{MPV_FILES},{MPV}/parse_cihp/{PERSON}.png",
        f"{viton}/image/000001_0.jpg,{MPV}/cloth_image/{CLOTH}.jpg,{viton}/pose/000001_0_keypoints.json,"
        f"{viton}/image-parse/000001_0.png",
        f"{hd}/image/00891_00.jpg,{hd}/cloth/01430_00.jpg,{hd}/openpose-json/00891_00_keypoints.json,"
        f"{hd}/image-parse/00891_00.png",
    ]
    listed = write_list(tmp_path, "person,cloth,pose,parsing\n" + "\n".join(rows) + "\n")
    with pytest.warns(UserWarning, match=r"list\.csv:3: parsing .*viton/test/image-parse/000001_0\.png holds labels"):
        dataset = PredictionList(listed, image_size=(64, 48))  # a real jumpsuit warns too
    expected = [
        (f"{MPV}/parse_cihp/{PERSON}.png", "cihp"),
        (f"{viton}/image-parse/000001_0.png", "lip"),
        (f"{hd}/image-parse/00891_00.png", "cihp"),
    ]
    for sample, (parse, label_set) in zip((dataset[i] for i in range(3)), expected, strict=True):
        assert (parse_at(Path(parse), "lip") == 10).any()
        assert torch.equal(sample["src_parse"], parse_at(Path(parse), label_set)), parse
        assert sample["meta"]["parse_label_set"] == label_set


def test_label_10_read_as_lip_warns_naming_the_list_line_and_the_file(tmp_path: Path) -> None:
    shutil.copy(CIHP_PARSE, tmp_path / "a_parse.png")
    listed = write_list(tmp_path, f"person,cloth,pose,parsing\n{MPV_FILES},a_parse.png\n")
    message = r"list\.csv:2: parsing \S*a_parse\.png holds labels \[10\], which label set lip \(the default for"
    with pytest.warns(UserWarning, match=message):
        sample = PredictionList(listed, image_size=(64, 48))[0]
    assert torch.equal(sample["src_parse"], parse_at(CIHP_PARSE, "lip"))  # warned, nothing changed


def test_an_unknown_label_set_names_the_list_line(tmp_path: Path) -> None:
    rows = f"person,cloth,pose,parsing,label_set\n{MPV_FILES},{CIHP_PARSE},atr\n"
    with pytest.raises(DatasetFormatError, match=r"list\.csv:2: label_set 'atr' must be one of lip, cihp"):
        PredictionList(write_list(tmp_path, rows))


# DTLD's demo/demo.txt lines (person image, target keypoint JSON, cloth, split) over the MPV fixture persons: one
# TAB separated, one space separated, as DTLD's loader accepts.
DEMO = (
    "1LJ21D005-G11@10=person_half_front.jpg\t1VJ21D02K-Q11@8=person_half_front_keypoints.json\t"
    "CO121D08G-O11@10=cloth_front.jpg\ttest\n"
    "4HI21D003-C11@10=person_half_front.jpg 1LJ21D005-G11@10=person_half_front_keypoints.json "
    "1VJ21D02B-Q11@10.1=cloth_front.jpg test\n"
)


def test_an_mpv_demo_list_gives_the_samples_of_the_equivalent_csv_list(tmp_path: Path, monkeypatch) -> None:
    shutil.copytree(MPV, tmp_path / "dataset")  # DTLD's repository: demo/demo.txt beside dataset/
    monkeypatch.chdir(tmp_path)  # the lists are named relative to the working directory
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo/demo.txt").write_text(DEMO)
    csv_rows = ["person,cloth,pose,person_pose,parsing,cloth_mask"]
    for person, pose, cloth, _ in (line.split() for line in DEMO.splitlines()):
        stem, cloth_stem = Path(person).stem, Path(cloth).stem
        files = [f"images/{person}", f"cloth_image/{cloth}", f"pose_coco/{pose}", f"pose_coco/{stem}_keypoints.json",
                 f"parse_cihp/{stem}.png", f"cloth_mask/{cloth_stem}_mask.png"]  # fmt: skip
        csv_rows.append(",".join(f"../dataset/{file}" for file in files))
    (tmp_path / "demo/list.csv").write_text("\n".join(csv_rows) + "\n")
    demo = PredictionList("demo/demo.txt", image_size=(64, 48), required=("person_pose", "parsing"))
    listed = PredictionList("demo/list.csv", image_size=(64, 48), required=("person_pose", "parsing"))
    assert len(demo) == len(listed) == 2
    for a, b in ((demo[i], listed[i]) for i in range(2)):
        assert a["meta"]["entry"].endswith("demo.txt:" + a["meta"]["entry"].rsplit(":", 1)[1])
        for key in ("name", "parse_label_set", "has_parse", "has_src_pose"):
            assert a["meta"][key] == b["meta"][key], key
        assert a["meta"]["parse_label_set"] == "cihp"  # detected: parse_cihp/
        for key in a.keys() - {"meta"}:
            value_a, value_b = a[key], b[key]
            if isinstance(value_a, dict):
                assert all(torch.equal(value_a[name], value_b[name]) for name in value_a), key
            else:
                assert torch.equal(value_a, value_b), key


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (DEMO, "elsewhere", r"demo\.txt: an MPV demo list .* neither \S+ nor \S+dataset holds images/"),
        (DEMO.replace("\ttest", "\tval"), "dataset", r"demo\.txt:1: split 'val' is not 'train' or 'test'"),
        (DEMO.replace(" test", ""), "dataset", r"demo\.txt:2: expected 4 columns .*got 3"),
    ],
)
def test_a_bad_demo_list_names_the_file_and_line(tmp_path: Path, text: str, where: str, message: str) -> None:
    shutil.copytree(MPV, tmp_path / where)
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo/demo.txt").write_text(text)
    with pytest.raises(DatasetFormatError, match=message):
        PredictionList(tmp_path / "demo/demo.txt")
