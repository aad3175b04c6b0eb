"""A RAW file's noise, blind: variance = shot x signal + read, fitted on the mosaic's flattest blocks.

Sensor noise is signal dependent (photon shot noise plus read noise), so a single sigma does not
describe it. Per 8x8 block of each CFA channel we take the mean and the variance of a high-pass
residual; textured blocks only add variance, so in every brightness bin a low percentile (corrected
for its sampling bias) stands for the noise, and a line through those points gives (shot, read).
"""

from __future__ import annotations

import math

import numpy as np

BLOCK = 4
BINS = 12
PERCENTILE = 5
RESIDUAL_GAIN = 1.0  # the orthonormal Haar detail of white noise keeps its variance
# The 10th percentile of a variance estimated from 64 samples sits below the true variance.
_PERCENTILE_BIAS = float(np.percentile(np.random.default_rng(0).chisquare(BLOCK * BLOCK - 1, 200_000), PERCENTILE)) / (
    BLOCK * BLOCK - 1
)


def estimate_raw_noise(mosaic: np.ndarray, period: int = 2) -> tuple[float, float]:
    """(shot, read) noise variances of a normalised mosaic (black 0, white 1; before white balance) whose
    colour filter repeats every ``period`` pixels (2 Bayer, 6 X-Trans): each site of the period is one plane."""
    height, width = mosaic.shape[0] // period * period, mosaic.shape[1] // period * period
    planes = mosaic[:height, :width].reshape(height // period, period, width // period, period).transpose(1, 3, 0, 2)
    planes = planes.reshape(period * period, height // period, width // period).astype(np.float32)
    # Haar diagonal detail of each colour plane: blind to flat areas and to gradients in x or y.
    h2, w2 = planes.shape[1] // 2 * 2, planes.shape[2] // 2 * 2
    a, b = planes[:, 0:h2:2, 0:w2:2], planes[:, 0:h2:2, 1:w2:2]
    c, d = planes[:, 1:h2:2, 0:w2:2], planes[:, 1:h2:2, 1:w2:2]
    residual = (a - b - c + d) / 2
    centre = (a + b + c + d) / 4
    rows, cols = centre.shape[1] // BLOCK, centre.shape[2] // BLOCK
    if rows * cols < BINS * 4:
        return 0.0, 0.0

    def blocks(plane: np.ndarray) -> np.ndarray:
        sites = plane.shape[0]
        return (
            plane[:, : rows * BLOCK, : cols * BLOCK].reshape(sites, rows, BLOCK, cols, BLOCK).transpose(0, 1, 3, 2, 4)
        )

    means = blocks(centre).reshape(-1, BLOCK * BLOCK).mean(axis=1)
    variances = blocks(residual).reshape(-1, BLOCK * BLOCK).var(axis=1, ddof=1) / RESIDUAL_GAIN
    unclipped = means < 0.9  # saturated blocks have no noise left
    means, variances = means[unclipped], variances[unclipped]
    if means.size < BINS * 4:
        return 0.0, 0.0
    edges = np.quantile(means, np.linspace(0, 1, BINS + 1))
    levels, noise = [], []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (means >= low) & (means <= high)
        if inside.sum() >= 8:
            levels.append(float(np.median(means[inside])))
            noise.append(float(np.percentile(variances[inside], PERCENTILE)) / _PERCENTILE_BIAS)
    return _fit_line(np.array(levels), np.array(noise))


def _fit_line(levels: np.ndarray, noise: np.ndarray) -> tuple[float, float]:
    """Least-squares ``noise = shot * level + read`` with both terms kept non-negative."""
    if levels.size < 2:
        return 0.0, float(max(noise.mean(), 0.0)) if noise.size else 0.0
    shot, read = np.polyfit(np.clip(levels, 0, None), noise, 1)
    if read < 0:
        shot, read = float(np.sum(levels * noise) / max(np.sum(levels * levels), 1e-12)), 0.0
    if shot < 0:
        shot, read = 0.0, float(np.mean(noise))
    return float(max(shot, 0.0)), float(max(read, 0.0))


def noise_std_map(mosaic: np.ndarray, shot: float, read: float) -> np.ndarray:
    """Per-pixel noise standard deviation of a mosaic under the (shot, read) model."""
    return np.sqrt(shot * np.clip(mosaic, 0, None) + read).astype(np.float32)


def read_noise_variance(shot: float, rng: np.random.Generator | None = None) -> float:
    """Read-noise variance that goes with a shot-noise level on real sensors (a log-linear fit over them; with
    the fit's scatter if ``rng`` is given)."""
    log_read = 2.18 * math.log(shot) + 1.2 + (rng.normal(0, 0.26) if rng is not None else 0.0)
    return math.exp(log_read)
