"""Folder datasets for training: images held in memory, random crops and dihedral flips."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
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
        # Every twelfth of the sorted Wallpapers (added 2026-12-02 with the folder).
        *(f"Wallpapers/{n}.jpg" for n in (
            "budgie_011", "budgie_023", "cinnamon_002", "cinnamon_014", "cinnamon_026", "cinnamon_038",
            "cinnamon_050", "cinnamon_062", "elementary_011", "kde_005", "kde_017", "lomiri_002", "lomiri_014",
            "lubuntu_010", "lxqt_000", "matebg_001", "pmos_001", "pmos_013", "popos_007", "solus_011",
            "ubmate_000", "ubmate_012", "xubuntu_008", "xubuntu_020",
        )),
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
    """Random training patches from every image under some folders.

    ``full_chroma``: names of folders whose images already have full-resolution colour; ``downscale``
    leaves them alone. ``hard_share`` of every draw comes from the patches that ``difficulty`` (an
    N x 3 x H x W batch in [0, 1] -> its N x H x W per-pixel error) scores highest (hard-patch mining).
    """

    HARD_POOL = 0.1  # share of all candidate patch positions kept as the hard pool
    HARD_STRIDE = 32  # candidate positions are on this grid

    def __init__(
        self,
        folders: list[Path],
        patch: int,
        grey: bool = False,
        downscale: int = 1,
        full_chroma: tuple[str, ...] = (),
        hard_share: float = 0.0,
        difficulty: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        self.patch = patch
        self.hard_share = hard_share
        self.images: list[np.ndarray] = []
        for folder in folders:
            for path in image_files(folder, "train"):
                with Image.open(path) as image:
                    image = image.convert("L" if grey else "RGB")
                    if downscale > 1 and folder.name not in full_chroma:
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
        self.hard: list[tuple[int, int, int]] = self._hardest(difficulty) if hard_share > 0 and difficulty else []

    def _hardest(self, difficulty: Callable[[torch.Tensor], torch.Tensor]) -> list[tuple[int, int, int]]:
        """(image, top, left) of the highest-scoring patches on a grid over every image."""
        candidates: list[tuple[float, int, int, int]] = []
        for index, image in enumerate(self.images):
            with torch.no_grad():
                error = difficulty(torch.tensor(image).permute(2, 0, 1)[None].float() / 255)[0]
            # Mean error of every patch-sized window, read on the candidate grid.
            window = F.avg_pool2d(error[None, None], self.patch, stride=self.HARD_STRIDE)[0, 0]
            for (row, column), score in np.ndenumerate(window.numpy()):
                candidates.append((float(score), index, row * self.HARD_STRIDE, column * self.HARD_STRIDE))
        candidates.sort(reverse=True)
        return [c[1:] for c in candidates[: max(1, int(len(candidates) * self.HARD_POOL))]]

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, count: int, rng: np.random.Generator) -> torch.Tensor:
        """``count`` patches as a float tensor NCHW in [0, 1]."""
        return self.sample_with_sources(count, rng)[0]

    def sample_with_sources(self, count: int, rng: np.random.Generator) -> tuple[torch.Tensor, np.ndarray]:
        """``count`` patches as a float tensor NCHW in [0, 1], and the index in ``images`` of each one's photo."""
        patches, sources = [], []
        hard = rng.binomial(count, self.hard_share) if self.hard else 0
        for number, index in enumerate(rng.choice(len(self.images), size=count, p=self.weights)):
            image = self.images[index]
            top = rng.integers(0, image.shape[0] - self.patch + 1)
            left = rng.integers(0, image.shape[1] - self.patch + 1)
            if number < hard:
                index, top, left = self.hard[rng.integers(len(self.hard))]
                image = self.images[index]
            sources.append(index)
            patch = image[top : top + self.patch, left : left + self.patch]
            patch = np.rot90(patch, k=int(rng.integers(4)))
            if rng.integers(2):
                patch = patch[:, ::-1]
            patches.append(np.ascontiguousarray(patch))
        batch = torch.from_numpy(np.stack(patches)).permute(0, 3, 1, 2)
        return batch.float() / 255, np.array(sources)
