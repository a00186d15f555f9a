"""MPV reader (FORMATS.md section 2): the DTLD re-release layout and the competition layout, auto-detected.

DTLD layout (``images/`` present; the synthetic generator writes it too)::

    <root>/data_pair.txt                          personA personB cloth split   (TAB or spaces)
    <root>/images/<name>.jpg
    <root>/parse_cihp/<stem>.png                  CIHP ids (10 = torso skin)
    <root>/pose_coco/<stem>_keypoints.json        OpenPose COCO-18
    <root>/cloth_image/<cloth>.jpg
    <root>/cloth_mask/<cloth stem>_mask.png|jpg

List names may carry a product folder (``TW421D05Y/TW421D05Y-C11@9=person_whole_front.jpg``); the flat folders are
looked up by basename. Competition layout (``all/`` present): ``all_poseA_poseB_clothes*.txt`` (same columns),
``all/<product>/<name>.jpg`` (persons, clothes and ``<cloth stem>_mask.jpg``), ``all_parsing/<product>/<stem>.png``
(LIP ids), ``all_person_clothes_keypoints/<product>/<stem>_keypoints.json``.

Source = personA, target = personB, cloth = the garment the target wears; rows of the other split are skipped. A
list in the layout of the MPV demo lists (``person_image keypoint_json cloth_image [split]``, ``is_demo_list``) is
refused with the pointer to ``vton predict``, which reads those.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path, PurePosixPath

from contract.errors import DatasetFormatError
from datamodules.readers.base import (
    PARSE_SUFFIXES,
    SPLITS,
    DatasetReader,
    FileIndex,
    ParseFile,
    PersonRecord,
    SampleRecord,
    Scan,
    check_listed_files,
    first_existing,
    ground_truth_path,
    list_rows,
    read_list_lines,
)

COLUMNS = ("personA", "personB", "cloth", "split")
DTLD_LIST = "data_pair.txt"
COMPETITION_LIST_GLOB = "all_poseA_poseB_clothes*.txt"
DEMO_LIST_PROBLEM = (
    "second column is a keypoint JSON: pose-only targets belong in a `vton predict` list (--data.predict_list FILE), "
    "which accepts this file directly"
)


def is_demo_list(lines: list[str]) -> bool:
    """Whether the first non-blank line is an MPV demo row (``datamodules.mpv_demo_list``): 3 or 4
    whitespace-separated names, the second a ``.json``."""
    fields = next((line.split() for line in lines if line.strip()), [])
    return len(fields) in (3, 4) and fields[1].lower().endswith(".json")


class MPVReader(DatasetReader):
    """MPV triplets -> contract samples (see ``DatasetReader`` for the shared arguments).

    Args:
        pair_list: the triplet list, relative to ``root`` (default: ``data_pair.txt``, or the one
            ``all_poseA_poseB_clothes*.txt`` of the competition layout).
        parse_suffix: what follows a person's stem in its parsing file name (default ``.png``; MPV3D's
            ``image-parse`` has ``_label.png``).
        **kwargs: ``DatasetReader`` arguments. ``parse_label_set="auto"`` means ``cihp`` for the DTLD layout
            (``parse_cihp/``) and ``lip`` for the competition layout.
    """

    format_name = "mpv"

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        pair_list: str | None = None,
        parse_suffix: str = PARSE_SUFFIXES[0],
        **kwargs,
    ) -> None:
        super().__init__(root, split, **kwargs)
        self.pair_list = pair_list
        self.parse_suffix = parse_suffix

    @cached_property
    def layout(self) -> str:
        """``"dtld"`` (``images/``) or ``"competition"`` (``all/``); raises when the root has neither or does not
        exist."""
        self.require_root()
        if (self.root / "images").is_dir():
            return "dtld"
        if (self.root / "all").is_dir():
            return "competition"
        raise DatasetFormatError(
            f"{self.root}: not an MPV root: expected images/ (with {DTLD_LIST}, parse_cihp/, pose_coco/, cloth_image/,"
            f" cloth_mask/) or all/ (with {COMPETITION_LIST_GLOB}, all_parsing/, all_person_clothes_keypoints/)"
        )

    def default_label_set(self) -> str:
        return "cihp" if self.layout == "dtld" else "lip"

    def list_path(self) -> Path:
        """The triplet list file; raises when it cannot be told which one."""
        if self.pair_list is not None:
            return self.root / self.pair_list
        if self.layout == "dtld":
            return self.root / DTLD_LIST
        candidates = sorted(self.root.glob(COMPETITION_LIST_GLOB))
        if len(candidates) != 1:
            found = ", ".join(path.name for path in candidates) or "none"
            raise DatasetFormatError(
                f"{self.root}: expected one {COMPETITION_LIST_GLOB} (found: {found}); choose with the reader option"
                " pair_list"
            )
        return candidates[0]

    def list_names(self) -> list[str]:
        return [self.list_path().relative_to(self.root).as_posix()]  # raises for none or several competition lists

    def splits_present(self) -> list[str]:
        try:
            return list(SPLITS) if self.list_path().is_file() else []
        except DatasetFormatError:
            return []

    def person(self, name: str) -> PersonRecord:
        """The files of a person named as in the list."""
        stem = PurePosixPath(name).stem
        if self.layout == "dtld":
            base = PurePosixPath(name).name
            return PersonRecord(
                name=name,
                image=self.root / "images" / base,
                parse=self.root / "parse_cihp" / f"{stem}{self.parse_suffix}",
                pose_json=self.root / "pose_coco" / f"{stem}_keypoints.json",
            )
        folder = PurePosixPath(name).parent
        return PersonRecord(
            name=name,
            image=self.root / "all" / name,
            parse=self.root / "all_parsing" / folder / f"{stem}{self.parse_suffix}",
            pose_json=self.root / "all_person_clothes_keypoints" / folder / f"{stem}_keypoints.json",
        )

    def cloth_files(self, name: str, files: FileIndex) -> tuple[Path, tuple[Path, ...]]:
        """The cloth image and the alternative paths of its mask (PNG first, then JPEG)."""
        stem = PurePosixPath(name).stem
        if self.layout == "dtld":
            image = self.root / "cloth_image" / PurePosixPath(name).name
            mask_dir = self.root / "cloth_mask"
        else:
            image = self.root / "all" / name
            mask_dir = image.parent
        return image, tuple(mask_dir / f"{stem}_mask{ext}" for ext in (".png", ".jpg"))

    def scan_lists(self) -> Scan:
        scan = Scan()
        try:
            path = self.list_path()
            lines = read_list_lines(path)
        except DatasetFormatError as exc:
            scan.problems.append(str(exc))
            return scan
        if is_demo_list(lines):
            first = next(number for number, line in enumerate(lines, start=1) if line.strip())
            scan.problems.append(f"{path}:{first}: {DEMO_LIST_PROBLEM}")
            return scan
        files = FileIndex()
        for entry, (person_a, person_b, cloth, split) in list_rows(path, lines, COLUMNS, scan):
            if split not in SPLITS:
                scan.problems.append(f"{entry}: split {split!r} is not 'train' or 'test'")
                scan.dropped += 1
                continue
            if split != self.split:
                continue
            source, target = self.person(person_a), self.person(person_b)
            cloth_image, mask_candidates = self.cloth_files(cloth, files)
            ground_truth = ground_truth_path(self.root, source.image, target.image)
            named: dict[str, Path | tuple[Path, ...] | ParseFile] = {}
            for role, person in (("personA", source), ("personB", target)):
                named.update(
                    {
                        f"{role} image": person.image,
                        f"{role} parsing": ParseFile(person.parse, self.parse_suffix),
                        f"{role} keypoints": person.pose_json,
                    }
                )
            named.update({"cloth image": cloth_image, "cloth mask": mask_candidates})
            if ground_truth is not None:
                named["ground truth"] = ground_truth
            record = SampleRecord(
                source=source,
                target=target,
                split=split,
                entry=entry,
                cloth=cloth_image,
                cloth_mask=first_existing(mask_candidates, files),
                ground_truth=ground_truth,
            )
            scan.add(record, check_listed_files(entry, named, files, scan))
        return scan
