"""Folder datasets for training: images held in memory, random crops and dihedral flips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from enhance_cli import paths

# Held out from every training set: recipes, hyperparameters and checkpoints are chosen on these images
# (``folder/name`` under ../shared/data/train), never on a test set. Fixed here so that every run agrees.
VALIDATION = frozenset(
    {
        *(f"CBSD432/{n}.jpg" for n in (
            "103006", "112056", "130066", "147062", "160067", "179084", "189029", "209070", "23025",
            "249021", "277053", "309004", "35058", "38092", "43051", "61034", "71046", "87015",
        )),
        *(f"WikiPhotos/{n:03d}.png" for n in (9, 18, 27, 36)),
        *(f"T91/{n}.png" for n in ("t14", "t28", "t42", "t56", "tt1", "tt24")),
    }
)  # fmt: skip


def is_validation(path: Path) -> bool:
    return f"{path.parent.name}/{path.name}" in VALIDATION


def image_files(folder: Path, split: str = "all") -> list[Path]:
    """Images under ``folder``: ``all``, ``train`` (without the validation split) or ``validation``."""
    files = paths.image_files(folder)
    if split == "train":
        return [p for p in files if not is_validation(p)]
    if split == "validation":
        return [p for p in files if is_validation(p)]
    return files


class PatchSampler:
    """Random training patches from every image under some folders."""

    def __init__(self, folders: list[Path], patch: int, grey: bool = False, downscale: int = 1) -> None:
        self.patch = patch
        self.images: list[np.ndarray] = []
        for folder in folders:
            for path in image_files(folder, "train"):
                with Image.open(path) as image:
                    image = image.convert("L" if grey else "RGB")
                    if downscale > 1:
                        # Box-averaging restores full-resolution colour to JPEG sources (4:2:0 chroma)
                        # and removes their compression and demosaicking traces.
                        image = image.reduce(downscale)
                    array = np.asarray(image)
                if min(array.shape[:2]) >= patch:
                    self.images.append(array.reshape(*array.shape[:2], -1))
        if not self.images:
            raise ValueError(f"no training images of at least {patch}px in {folders}")
        # Large photos hold more distinct patches: sample images in proportion to their area.
        areas = np.array([a.shape[0] * a.shape[1] for a in self.images], dtype=np.float64)
        self.weights = areas / areas.sum()

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, count: int, rng: np.random.Generator) -> torch.Tensor:
        """``count`` patches as a float tensor NCHW in [0, 1]."""
        patches = []
        for index in rng.choice(len(self.images), size=count, p=self.weights):
            image = self.images[index]
            top = rng.integers(0, image.shape[0] - self.patch + 1)
            left = rng.integers(0, image.shape[1] - self.patch + 1)
            patch = image[top : top + self.patch, left : left + self.patch]
            patch = np.rot90(patch, k=int(rng.integers(4)))
            if rng.integers(2):
                patch = patch[:, ::-1]
            patches.append(np.ascontiguousarray(patch))
        batch = torch.from_numpy(np.stack(patches)).permute(0, 3, 1, 2)
        return batch.float() / 255
