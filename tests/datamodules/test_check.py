"""``vton-data check``: clean real-format fixtures pass; a broken copy reports every problem in one pass."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from contract.errors import DatasetFormatError
from datamodules import check
from datamodules.check import check_dataset
from datamodules.cli import main
from datamodules.synthetic.dataset import SynthConfig, synthesize

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
A, B, C = (
    "1LJ21D005-G11@10=person_half_front",
    "1VJ21D02K-Q11@8=person_half_front",
    "4HI21D003-C11@10=person_half_front",
)


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="vton-data")
    check.add_subcommand(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def printed_lines(capsys) -> list[str]:
    """What the check printed, the summary without its timing (`` (<s> s with <n> worker(s))``)."""
    lines = capsys.readouterr().out.splitlines()
    return [*lines[:-1], re.sub(r" \(\d+\.\d s with \d+ worker\(s\)\)$", "", lines[-1])] if lines else lines


@pytest.mark.parametrize("fmt", ["mpv", "viton", "viton-hd"])
def test_real_fixtures_are_clean(fmt, capsys):
    root = FIXTURES / fmt
    assert check_dataset(root, fmt) == []
    assert run_cli(["check", "--root", str(root), "--format", fmt]) == 0
    clean = {"mpv": "2 train, 2 test", "viton": "4 test", "viton-hd": "1 test"}[fmt]
    assert printed_lines(capsys) == [f"{fmt} dataset at {root}: no problems; clean samples: {clean}"]


def broken_mpv(tmp_path: Path) -> Path:
    """The MPV fixture with synthetic ground truth and one defect of each kind (see the expected list)."""
    root = Path(shutil.copytree(FIXTURES / "mpv", tmp_path / "mpv"))
    lines = (root / "data_pair.txt").read_text().splitlines()
    lines[1] = "a.jpg\tb.jpg\ttrain"
    (root / "data_pair.txt").write_text("\n".join(lines) + "\n")
    Image.fromarray(np.full((256, 192), 25, np.uint8)).save(root / f"parse_cihp/{A}.png")
    Image.new("RGB", (96, 128)).save(root / f"images/{B}.jpg")
    (root / f"pose_coco/{C}_keypoints.json").write_text(json.dumps({"people": [{"pose_keypoints": [5.0] * 51}]}))
    (root / "cloth_mask/CO121D08G-O11@10=cloth_front_mask.png").write_bytes(b"broken")
    (root / "synthetic_gt").mkdir()
    np.savez_compressed(
        root / f"synthetic_gt/{A}__{B}.npz", flow=np.zeros((2, 10, 10), np.float32), vis=np.zeros((10, 10), np.uint8)
    )
    np.savez_compressed(
        root / f"synthetic_gt/{C}__{A}.npz",
        flow=np.zeros((2, 256, 192), np.float32),
        vis=np.full((256, 192), 7, np.uint8),
    )
    return root  # fmt: skip


def test_broken_dataset_lists_every_problem_once(tmp_path, capsys):
    root = broken_mpv(tmp_path)
    problems = [str(problem) for problem in check_dataset(root, "mpv")]
    assert problems == [
        f"{root}/data_pair.txt:2: expected 4 columns (personA personB cloth split), got 3",
        f"{root}/parse_cihp/{A}.png: labels [25] out of range 0..19 (LIP-20 ids expected)",
        f"{root}/images/{B}.jpg: size 96x128 (WxH) differs from the dataset's image size 192x256 (WxH)",
        f"{root}/cloth_mask/CO121D08G-O11@10=cloth_front_mask.png: unreadable or corrupt image file",
        f"{root}/synthetic_gt/{A}__{B}.npz: size 10x10 (WxH) differs from the target image 96x128 (WxH)",
        f"{root}/data_pair.txt:4: ground truth not found: {root}/synthetic_gt/{A}__{A}.npz",
        f"{root}/pose_coco/{C}_keypoints.json: expected 54 (COCO-18) or 75 (BODY_25) pose values, got 51",
        f"{root}/synthetic_gt/{C}__{A}.npz: vis values [7] outside 0 (background), 1 (visible), 2 (occluded)",
    ]
    assert run_cli(["check", "--root", str(root), "--format", "mpv"]) == 1
    printed = printed_lines(capsys)
    assert printed == [*problems, f"mpv dataset at {root}: 8 problem(s); clean samples: 0 train, 0 test"]


@pytest.mark.parametrize("fmt", ["mpv", "deepfashion", "viton", "viton-hd"])
def test_a_root_that_does_not_exist_is_one_line_and_status_2(tmp_path, monkeypatch, capsys, fmt):
    monkeypatch.delenv("VTON_DEBUG", raising=False)
    with pytest.raises(DatasetFormatError, match=rf"^{tmp_path}/absent: does not exist$"):
        check_dataset(tmp_path / "absent", fmt)
    assert main(["check", "--root", str(tmp_path / "absent"), "--format", fmt]) == 2
    assert capsys.readouterr().err == f"vton-data: error: {tmp_path}/absent: does not exist\n"
    monkeypatch.chdir(tmp_path)  # the default synthetic root before `make data`
    assert main(["check", "--root", "data/synthetic_mpv", "--format", fmt]) == 2
    assert capsys.readouterr().err == (
        "vton-data: error: data/synthetic_mpv: does not exist; run `make data` to write the built-in synthetic set\n"
    )


def test_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset format 'lip'"):
        check_dataset(tmp_path, "lip")
    with pytest.raises(SystemExit):
        run_cli(["check", "--root", str(tmp_path), "--format", "lip"])


def deepfashion_root(tmp_path: Path) -> Path:
    """The trimmed real CSVs with a white 176x256 image for every annotated person."""
    root = tmp_path / "deepfashion"
    (root / "test").mkdir(parents=True)
    for name in ("fasion-annotation-test.csv", "fasion-pairs-test.csv"):
        shutil.copy(FIXTURES / "deepfashion" / name, root)
    for line in (root / "fasion-annotation-test.csv").read_text().splitlines()[1:]:
        Image.new("RGB", (176, 256), "white").save(root / "test" / line.split(":")[0])
    return root


def test_deepfashion_csv_rows_and_split_list(tmp_path):
    root = deepfashion_root(tmp_path)
    annotation = (root / "fasion-annotation-test.csv").read_text().splitlines()
    (root / "test.lst").write_text("fashionWOMENBlouses_Shirtsid0000130601_2side.jpg\n")  # PATN spelling: found
    assert check_dataset(root, "deepfashion") == []

    annotation[3] = annotation[3].replace("[31, 65, 61,", "[31, 65,", 1)  # 17 y values
    (root / "fasion-annotation-test.csv").write_text("\n".join(annotation) + "\n")
    with (root / "test.lst").open("a") as split_list:
        split_list.write("fashionMENDenimid0000000001_1front.jpg\n")
    name, csv = annotation[3].split(":")[0], root / "fasion-annotation-test.csv"
    assert [str(p) for p in check_dataset(root, "deepfashion")] == [
        f"{csv}:4: expected 18 keypoints, got 17 y and 18 x values",
        f"{root}/fasion-pairs-test.csv:5: keypoints of '{name}' unusable: {csv}:4 is malformed",
        f"{root}/test.lst:2: image 'fashionMENDenimid0000000001_1front.jpg' not found in {root}/test",
    ]


def test_reader_options_reach_the_readers(tmp_path, capsys):
    root = deepfashion_root(tmp_path)
    shutil.copy(root / "fasion-annotation-test.csv", root / "fashion-annotation-test.csv")
    assert [str(p) for p in check_dataset(root, "deepfashion")] == [
        f"{root}: expected one fa(s)hion-[resize-]annotation-test.csv (found: fashion-annotation-test.csv, "
        "fasion-annotation-test.csv); choose with the reader option annotation_csv (the keypoints of 4 entries, "
        f"the first {root}/fasion-pairs-test.csv:2)"
    ]
    argv = ["check", "--root", str(root), "--format", "deepfashion"]
    assert run_cli([*argv, "--reader-option", "annotation_csv=fashion-annotation-test.csv"]) == 0
    with pytest.raises(TypeError, match="unexpected keyword argument 'pair_list'"):
        check_dataset(root, "deepfashion", {"pair_list": "x.txt"})
    with pytest.raises(SystemExit):
        run_cli([*argv, "--reader-option", "novalue"])
    assert "expected KEY=VALUE, got 'novalue'" in capsys.readouterr().err


def test_every_missing_folder_is_one_line_over_all_splits(tmp_path):
    """A missing parsing folder no longer hides a missing pose folder: one line each, counting the entries of both
    splits, and the images and cloth of the same entries are still checked."""
    root = Path(shutil.copytree(FIXTURES / "mpv", tmp_path / "mpv"))
    shutil.rmtree(root / "parse_cihp")
    shutil.rmtree(root / "pose_coco")
    (root / "images" / f"{B}.jpg").unlink()
    problems = [str(problem) for problem in check_dataset(root, "mpv")]
    first = f"the first {root}/data_pair.txt:1"
    assert problems[:2] == [
        f"{root}/parse_cihp: folder not found (the personA parsing and personB parsing of 4 entries, {first})",
        f"{root}/pose_coco: folder not found (the personA keypoints and personB keypoints of 4 entries, {first})",
    ]
    assert problems[2:] and all(f"image not found: {root}/images/{B}.jpg" in problem for problem in problems[2:])

    viton = Path(shutil.copytree(FIXTURES / "viton", tmp_path / "viton"))
    shutil.rmtree(viton / "test/image-parse")
    shutil.rmtree(viton / "test/pose")
    split, first = viton / "test", f"the first {viton}/test_pairs.txt:1"
    assert [str(problem) for problem in check_dataset(viton, "viton")] == [
        f"{split}: no folder image-parse/ or image-parse-v3/ (the person parsing of 4 entries, {first})",
        f"{split}: no folder pose/ or openpose-json/ or openpose_json/ (the person keypoints of 4 entries, {first})",
    ]


@pytest.mark.parametrize(
    ("fmt", "looked_for"),
    [
        ("viton", "train_pairs.txt, test_pairs.txt"),
        ("deepfashion", "fa(s)hion-[resize-]pairs-train.csv, fa(s)hion-[resize-]pairs-test.csv"),
    ],
)
def test_a_dataset_without_any_pair_list_names_the_files_looked_for(tmp_path, capsys, fmt, looked_for):
    assert [str(problem) for problem in check_dataset(tmp_path, fmt)] == [
        f"{tmp_path}: no pair list found (looked for {looked_for})"
    ]
    assert run_cli(["check", "--root", str(tmp_path), "--format", fmt]) == 1
    assert printed_lines(capsys)[-1] == f"{fmt} dataset at {tmp_path}: 1 problem(s); clean samples: none"


def test_mpv_competition_root_without_its_list_names_the_pattern(tmp_path):
    (tmp_path / "all").mkdir()
    assert [str(problem) for problem in check_dataset(tmp_path, "mpv")] == [
        f"{tmp_path}: expected one all_poseA_poseB_clothes*.txt (found: none); choose with the reader option pair_list"
    ]


def test_deepfashion_without_annotation_csv_still_checks_every_pair(tmp_path):
    root = deepfashion_root(tmp_path)
    (root / "fasion-annotation-test.csv").unlink()
    pairs = (root / "fasion-pairs-test.csv").read_text().splitlines()
    missing = pairs[2].split(",")[-2]  # the source of the second pair
    (root / "test" / missing).unlink()
    problems = [str(problem) for problem in check_dataset(root, "deepfashion")]
    assert problems == [
        f"{root}: expected one fa(s)hion-[resize-]annotation-test.csv (found: none); choose with the reader option "
        f"annotation_csv (the keypoints of {len(pairs) - 1} entries, the first {root}/fasion-pairs-test.csv:2)",
        *(
            f"{root}/fasion-pairs-test.csv:{number}: image '{missing}' not found in {root}/test"
            for number, line in enumerate(pairs[1:], start=2)
            if missing in line.split(",")
        ),
    ]


def test_parsings_named_with_another_suffix_get_the_reader_option(tmp_path, capsys):
    """MPV3D names parsings ``<stem>_label.png``: one line naming the suffix found, the one expected and the option;
    with the option the dataset is clean."""
    root = Path(shutil.copytree(FIXTURES / "mpv", tmp_path / "mpv"))
    for parsing in (root / "parse_cihp").glob("*.png"):
        parsing.rename(parsing.with_name(f"{parsing.stem}_label.png"))
    assert [str(problem) for problem in check_dataset(root, "mpv")] == [
        f"{root}/parse_cihp: parsing files end in '_label.png' where the reader expects '.png' (the personA parsing "
        f"and personB parsing of 4 entries, the first {root}/data_pair.txt:1); the reader option parse_suffix sets "
        "the suffix: parse_suffix=_label.png (reader_options in the data config, --reader-option for vton-data check)"
    ]
    assert run_cli(["check", "--root", str(root), "--format", "mpv", "--reader-option", "parse_suffix=_label.png"]) == 0

    deepfashion = deepfashion_root(tmp_path)
    (deepfashion / "testM_lip").mkdir()
    for image in (deepfashion / "test").iterdir():
        Image.new("L", (176, 256)).save(deepfashion / "testM_lip" / f"{image.stem}_label.png")
    (problem,) = check_dataset(deepfashion, "deepfashion")
    assert str(problem).startswith(f"{deepfashion}/testM_lip: parsing files end in '_label.png' where the reader ")
    assert check_dataset(deepfashion, "deepfashion", {"parse_suffix": "_label.png"}) == []


def test_an_mpv_demo_list_as_pair_list_points_to_vton_predict(tmp_path):
    root = Path(shutil.copytree(FIXTURES / "mpv", tmp_path / "mpv"))
    (root / "data_pair.txt").write_text(f"\n{A}.jpg\t{B}_keypoints.json\tCO121D08G-O11@10=cloth_front.jpg\ttest\n")
    assert [str(problem) for problem in check_dataset(root, "mpv")] == [
        f"{root}/data_pair.txt:2: second column is a keypoint JSON: pose-only targets belong in a `vton predict` "
        "list (--data.predict_list FILE), which accepts this file directly"
    ]


def test_workers_report_the_same_problems_in_the_same_order(tmp_path, capsys):
    """``--workers 2`` loads chunks of entries in two processes: the same problems, in the list's order, as one
    process, for defects in different chunks; the summary says how long it took."""
    root = tmp_path / "synthetic"
    synthesize(SynthConfig(str(root), height=64, width=48, n_train=3 * check.CHUNK, n_test=2, seed=0))
    rows = [line.split("\t") for line in (root / "data_pair.txt").read_text().splitlines()]
    for row in (rows[5], rows[check.CHUNK + 7], rows[2 * check.CHUNK + 1]):  # one defect in each chunk
        (root / "images" / row[0]).write_bytes(b"broken")
    one = [str(problem) for problem in check_dataset(root, "mpv")]
    assert len(one) == 3 and all("unreadable or corrupt image file" in problem for problem in one)
    assert [str(problem) for problem in check.run_check(root, "mpv", workers=2).problems] == one
    assert run_cli(["check", "--root", str(root), "--format", "mpv", "--workers", "2"]) == 1
    summary = capsys.readouterr().out.splitlines()[-1]
    assert re.fullmatch(
        rf"mpv dataset at {root}: 3 problem\(s\); clean samples: {3 * check.CHUNK - 3} train, 2 test "
        r"\(\d+\.\d s with 2 worker\(s\)\)",
        summary,
    )
