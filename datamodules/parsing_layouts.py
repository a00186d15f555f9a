"""The label set a parsing file's dataset layout implies, from the folder it lies in (FORMATS.md sections 2-4).

A prediction-list row whose parsing sits inside a known layout is read with that layout's parser family when the
list's label set is ``auto`` (``datamodules.predict_list``); the readers use the same families for their own data:

=====================================================  =====================================  ========
parsing file                                           layout                                 set
=====================================================  =====================================  ========
``.../parse_cihp/<stem>.png``                          MPV, DTLD re-release (CIHP-PGN)        ``cihp``
``.../all_parsing/[<product>/]<stem>.png``             MPV, competition layout                ``lip``
``.../<split>/image-parse-v3/<stem>.png``              VITON-HD, full release                 ``cihp``
``.../<split>/image-parse/<stem>.png`` beside          VITON-HD, official sample              ``cihp``
``openpose-json/`` or ``openpose_json/``
``.../<split>/image-parse/<stem>.png`` beside          VITON, CP-VTON layout                  ``lip``
``pose/``
``.../{train,test}M_lip/<stem>.png``                   DeepFashion, DiOr layout               ``lip``
=====================================================  =====================================  ========

Any other place implies nothing (``None``).
"""

from __future__ import annotations

from pathlib import Path

FOLDER_LABEL_SETS = {"parse_cihp": "cihp", "image-parse-v3": "cihp", "trainM_lip": "lip", "testM_lip": "lip"}
COMPETITION_PARSING = "all_parsing"
VITON_PARSING = "image-parse"
VITON_HD_POSE_DIRS = ("openpose-json", "openpose_json")
VITON_POSE_DIR = "pose"


def layout_label_set(parse: Path) -> str | None:
    """``"lip"`` or ``"cihp"`` when ``parse`` lies in a layout of the module table, else ``None``."""
    folder = parse.parent
    if folder.name in FOLDER_LABEL_SETS:
        return FOLDER_LABEL_SETS[folder.name]
    if COMPETITION_PARSING in (folder.name, folder.parent.name):
        return "lip"
    if folder.name == VITON_PARSING:
        if any((folder.parent / name).is_dir() for name in VITON_HD_POSE_DIRS):
            return "cihp"
        if (folder.parent / VITON_POSE_DIR).is_dir():
            return "lip"
    return None
