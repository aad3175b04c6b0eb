"""Folder datasets for training: images held in memory, random crops and dihedral flips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from enhance_cli.imageio import IMAGE_SUFFIXES


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


class PatchSampler:
    """Random training patches from every image under some folders."""

    def __init__(self, folders: list[Path], patch: int, grey: bool = False, downscale: int = 1) -> None:
        self.patch = patch
        self.images: list[np.ndarray] = []
        for folder in folders:
            for path in image_files(folder):
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
