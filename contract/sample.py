"""The data contract shared by every reader, the synthetic generator and every stage.

One sample is a ``dict``; a batch adds the leading ``B`` (see ``DESIGN.md``):

================  ==========================  ==================================================
key               shape, dtype                meaning
================  ==========================  ==================================================
src_img, tgt_img  [3,H,W] float in [-1, 1]    person images
src_kpts, ...     [18,3] float                x, y in pixels of the loaded image, visibility 0/1
src_pose, ...     [18,H,W] float in [0, 1]    keypoint maps (zero map for a missing joint)
src_parse, ...    [H,W] long in 0..19         LIP-20 human parsing
src_masks, ...    dict of [1,H,W] float       derived masks, keys ``MASK_GROUPS``
src_agnostic      [3,H,W] float in [-1, 1]    ``I_s`` without clothes (cloth region set to 0)
cloth             [3,H,W] float in [-1, 1]    in-shop garment
cloth_mask        [1,H,W] float {0, 1}        its mask
flow_gt           [2,H,W] float               synthetic only: target -> source offsets, pixels
vis_gt            [H,W] long                  synthetic only: 0 bg / 1 visible / 2 occluded
meta              dict of str                 dataset, ids, file paths
================  ==========================  ==================================================

Flow convention everywhere: ``out(p) = src(p + flow(p))``, offsets in pixels, channel 0 = x.
"""

from __future__ import annotations

# --- keypoints: OpenPose COCO-18 -------------------------------------------------------------
COCO18_JOINTS: tuple[str, ...] = (
    "nose", "neck",
    "r_shoulder", "r_elbow", "r_wrist",
    "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle",
    "l_hip", "l_knee", "l_ankle",
    "r_eye", "l_eye", "r_ear", "l_ear",
)  # fmt: skip
NUM_JOINTS = len(COCO18_JOINTS)

# Person's right <-> person's left; a horizontal flip swaps these joint indices.
COCO18_FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13), (14, 15), (16, 17),
)  # fmt: skip

# Limbs for drawing skeletons (0-based joint indices; the PATN/NTED list).
COCO18_LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)  # fmt: skip

# BODY_25 -> COCO-18 (drop MidHip and the feet joints).
BODY25_TO_COCO18: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)

# --- parsing: LIP 20 labels ---------------------------------------------------------------
LIP_LABELS: tuple[str, ...] = (
    "background", "hat", "hair", "glove", "sunglasses", "upper_clothes", "dress", "coat",
    "socks", "pants", "jumpsuits", "scarf", "skirt", "face", "left_arm", "right_arm",
    "left_leg", "right_leg", "left_shoe", "right_shoe",
)  # fmt: skip
NUM_PARSE_LABELS = len(LIP_LABELS)

# A horizontal flip swaps these label ids (left/right are the person's sides).
LIP_FLIP_PAIRS: tuple[tuple[int, int], ...] = ((14, 15), (16, 17), (18, 19))

# Colour palette for visualising LIP / CIHP parsing (RGB, index = label id).
LIP_PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0), (128, 0, 0), (254, 0, 0), (0, 85, 0), (169, 0, 51),
    (254, 85, 0), (0, 0, 85), (0, 119, 220), (85, 85, 0), (0, 85, 85),
    (85, 51, 0), (52, 86, 128), (0, 128, 0), (0, 0, 254), (51, 169, 220),
    (0, 254, 254), (85, 254, 169), (169, 254, 85), (254, 254, 0), (254, 169, 0),
)  # fmt: skip

# CIHP (DTLD's MPV parses, VITON-HD) uses id 10 for torso skin (neck) where LIP has "jumpsuits".
# LIP-20 has no skin label; readers of CIHP-parsed data map it to ``CIHP_TORSO_SKIN_DEFAULT``
# (background, as VITON-HD's own grouping ``background = [0, 10]`` does), configurable per reader.
CIHP_TORSO_SKIN = 10
CIHP_TORSO_SKIN_DEFAULT = 0

# Derived masks the stages use (label ids per group).
MASK_GROUPS: dict[str, tuple[int, ...]] = {
    "cloth": (5, 6, 7),  # upper clothes, dress, coat: the try-on region (CP-VTON)
    "face": (4, 13),  # sunglasses, face
    "hair": (1, 2),  # hat, hair
    "arms": (3, 14, 15),  # gloves, arms
    "legs": (8, 16, 17, 18, 19),  # socks, legs, shoes
    "background": (0,),
}

# Keys every sample carries (synthetic data adds flow_gt and vis_gt).
PERSON_KEYS = ("img", "kpts", "pose", "parse", "masks")
SAMPLE_KEYS: tuple[str, ...] = (
    *(f"src_{k}" for k in PERSON_KEYS),
    *(f"tgt_{k}" for k in PERSON_KEYS),
    "src_agnostic",
    "cloth",
    "cloth_mask",
    "meta",
)
GROUND_TRUTH_KEYS = ("flow_gt", "vis_gt")

# Synthetic ground-truth side files live here, inside a dataset root; real-data readers ignore it.
SYNTHETIC_GT_DIR = "synthetic_gt"
