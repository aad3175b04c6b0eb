"""Tiling: tiles get their network's receptive field as context, so tiled results match the whole image's.

The engine's plan (blend weights, halos, alignment) on its own; each architecture's receptive field against
autograd; then every shipped model, tiled at several sizes, against its own whole-image result on real images.
"""

import io
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from typer.testing import CliRunner

from enhance_cli.cli import app
from enhance_cli.develop import Developer, balanced_mosaic
from enhance_cli.imageio import Picture, read_image
from enhance_cli.nn import Footprint
from enhance_cli.rawio import read_raw
from enhance_cli.registry import WEIGHTS_DIR, build_architecture, find_card, load_model
from enhance_cli.restorer import Restorer
from enhance_cli.tiling import _axis_plan, automatic_tile, check_tile, run_tiled, tile_starts
from tests.conftest import ROOT

SAMPLE_RAW = ROOT / "samples" / "colorchart.dng"
# The README promises 2/255; with a halo of the receptive field only float rounding (~1e-7) remains.
TOLERANCE = 1e-4


# --- the plan ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "length,tile,overlap,align",
    [(100, 40, 16, 1), (1000, 256, 32, 1), (257, 64, 32, 1), (64, 64, 32, 1), (300, 299, 32, 1), (129, 64, 0, 1)]
    + [(1024, 96, 2, 32), (1024, 32, 64, 32), (160, 64, 32, 16), (1000, 130, 48, 2)],
)
def test_blend_weights_sum_to_one(length, tile, overlap, align):
    total = np.zeros(length, np.float32)
    for part in _axis_plan(length, tile, overlap, align, halo=40):
        total[part.start : part.stop] += part.weights
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_blend_weights_sum_to_one_for_any_plan():
    rng = np.random.default_rng(0)
    for _ in range(300):
        align = int(rng.choice([1, 2, 16, 32]))
        length = int(rng.integers(1, 40)) * align
        tile = max(align, int(rng.integers(1, 400)) // align * align)
        total = np.zeros(length, np.float32)
        for part in _axis_plan(length, tile, int(rng.integers(0, 200)), align, halo=int(rng.integers(0, 300))):
            total[part.start : part.stop] += part.weights
            assert part.first % align == part.start % align == part.end % align == 0
        np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_tiles_cover_the_image_with_at_least_the_overlap():
    starts = tile_starts(1000, 256, 32)
    assert starts[0] == 0 and starts[-1] + 256 == 1000
    assert all(b - a <= 256 - 32 for a, b in zip(starts, starts[1:], strict=False))


def test_tiles_split_the_image_evenly():
    """The fewest tiles that fit, then sized evenly: an image just over one tile gets two halves, not two
    tiles that each cover nearly all of it."""
    plan = _axis_plan(1100, 1000, 32)
    assert [part.size for part in plan] == [566, 566] and plan[1].stop == 1100
    plan = _axis_plan(1760, 576, 64, align=32)
    assert len(plan) == 4 and {part.size for part in plan} == {512}


def test_every_tile_gets_the_halo_clipped_at_the_border():
    plan = _axis_plan(1000, 256, 32, halo=40)
    assert plan[0].first == 0 and plan[-1].end == 1000
    for part in plan:
        assert part.first == max(0, part.start - 40) and part.end == min(1000, part.stop + 40)


def test_tile_extents_stay_on_the_cell_grid():
    """Halo included, every extent starts and ends on the alignment (isp: its 32-pixel HyperConvolution cells)."""
    plan = _axis_plan(1024, 128, 32, align=32, halo=285)
    assert len(plan) > 4
    for part in plan:
        assert part.first % 32 == part.start % 32 == part.end % 32 == 0
        assert part.first <= max(0, part.start - 285) and part.end >= min(1024, part.stop + 285)


def box_blur(radius: int):
    """A network whose receptive field is exactly ``radius``: a (2 radius + 1)² mean, zero-padded."""
    return lambda x: F.avg_pool2d(x, 2 * radius + 1, stride=1, padding=radius, count_include_pad=True)


def test_a_halo_of_the_receptive_field_is_exactly_enough():
    image = np.random.default_rng(0).random((144, 192, 3), dtype=np.float32)
    whole = box_blur(5)(torch.from_numpy(image.transpose(2, 0, 1))[None])[0].numpy().transpose(1, 2, 0)
    enough = run_tiled(box_blur(5), image, 48, 0, halo=5)  # tiles that abut: only the halo gives context
    assert enough.tiles == 12
    np.testing.assert_allclose(enough.image, whole, atol=1e-6)
    short = run_tiled(box_blur(5), image, 48, 0, halo=4)
    assert np.abs(short.image - whole).max() > 1e-3


def test_processed_pixels_count_what_the_network_saw():
    seen = []

    def record(batch):
        seen.append(batch.shape[-2] * batch.shape[-1])
        return batch

    result = run_tiled(record, np.zeros((123, 201, 3), np.float32), 64, 16, align=2, halo=20)
    assert result.processed_pixels == sum(seen) > 124 * 202  # halos and overlaps are work too
    assert run_tiled(record, np.zeros((123, 201, 3), np.float32), 0, 16, align=2, halo=20).processed_pixels == 124 * 202


def test_pointwise_function_is_unchanged_by_tiling():
    image = np.random.default_rng(0).random((123, 201, 3), dtype=np.float32)
    result = run_tiled(lambda x: x * 2, image, 48, 16)
    assert result.tiles > 1
    np.testing.assert_allclose(result.image, image * 2, atol=1e-6)


def test_automatic_tile_fits_the_budget_with_its_halo():
    assert automatic_tile(100, 100, 1000, 1 << 30, halo=39) == 0
    side = automatic_tile(4000, 4000, 1000, 256 << 20, halo=39)
    assert side > 64 and side % 16 == 0
    assert (side + 2 * 48) ** 2 * 1000 <= 256 << 20  # the halo rounded out to the 16-pixel alignment
    assert automatic_tile(4000, 4000, 1000, 256 << 20, 32, halo=285) % 32 == 0
    assert automatic_tile(4000, 4000, 1000, 1 << 20, halo=39) == 64  # a tiny budget still gets usable tiles


@pytest.mark.parametrize("tile", [1, 16, 63])
def test_tiles_below_the_minimum_are_refused(tile):
    with pytest.raises(ValueError, match=f"--tile {tile} is below the minimum of 64 pixels"):
        check_tile(tile)
    check_tile(None)
    check_tile(0)
    check_tile(64)


def test_cli_refuses_a_tiny_tile_before_touching_any_image(small_png, tmp_path):
    output = tmp_path / "out.png"
    result = CliRunner().invoke(app, ["restore", str(small_png), "--level", "25", "--tile", "16", "-o", str(output)])
    assert result.exit_code == 2 and "--tile 16 is below the minimum of 64" in result.stderr
    assert not output.exists()


def test_tile_function_sees_no_gradients():
    seen = []

    def record(batch):
        seen.append(torch.is_grad_enabled())
        return batch

    run_tiled(record, np.zeros((8, 8, 3), np.float32), 0, 0)
    assert seen == [False]


# --- receptive fields --------------------------------------------------------------------------------


def measured_reach(model, image: np.ndarray, position: int, axis: int) -> int:
    """How far along ``axis`` the gradient of one output pixel (at ``position`` on that axis) reaches."""
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].requires_grad_(True)
    centre = [x.shape[2] // 2, x.shape[3] // 2]
    centre[axis] = position
    model(x)[0, :, centre[0], centre[1]].sum().backward()
    reached = torch.nonzero(x.grad[0].abs().sum(0))[:, axis]
    return int((reached - position).abs().max())


def network_input(name: str, long_side: int) -> np.ndarray:
    """A real crop in the model's input space: the noisy sample, or the sample RAW's balanced mosaic."""
    if name.startswith("isp"):
        mosaic, _ = balanced_mosaic(read_raw(SAMPLE_RAW))
        crop = mosaic[256:288, 256 : 256 + long_side, None]
        return np.concatenate([crop, np.full_like(crop, 0.01)], axis=2)  # plus a noise-std plane
    pixels = np.asarray(Image.open(ROOT / "samples" / "colorchart-noisy-sigma25.png").convert("RGB"))
    return pixels[200:264, 300 : 300 + long_side].astype(np.float32) / 255


@pytest.mark.parametrize("name,long_side", [("hyperres-noise", 128), ("isp", 640), ("isp-plain", 128)])
def test_receptive_field_is_tight(name, long_side):
    """No gradient beyond the radius, in rows or columns, and the farthest-reaching pixel reaches it."""
    model = load_model(find_card(name))
    model.set_level(0.3)
    radius = model.receptive_field
    assert 2 * radius < long_side
    # The output pixel whose computed footprint reaches farthest (they differ by phase on the cell grid).
    reach = model.footprint(Footprint.line(long_side))
    position = int(np.argmax(reach.reach()[radius : long_side - radius])) + radius
    image = network_input(name, long_side)
    for axis, oriented in ((1, image), (0, image.transpose(1, 0, 2))):
        measured = measured_reach(model, oriented, position, axis)
        assert radius * 0.97 <= measured <= radius, (axis, measured, radius)


def test_cards_record_the_receptive_field():
    recorded = {}
    for path in WEIGHTS_DIR.glob("*.json"):
        card = json.loads(path.read_text())
        model = build_architecture(card["architecture"], card["config"])
        if hasattr(model, "receptive_field"):  # the restoration models, which run in tiles
            recorded[card["name"]] = card.get("receptive_field")
            assert recorded[card["name"]] == model.receptive_field, card["name"]
            assert card.get("tile_halo") == model.tile_halo, card["name"]
    assert recorded["isp"] > recorded["isp-plain"] > recorded["hyperres-noise"] > 0
    assert json.loads((WEIGHTS_DIR / "isp.json").read_text())["tile_halo"] < recorded["isp"]  # see IspUNet.tile_halo


# --- shipped models, tiled against the whole image ---------------------------------------------------
# Tiles of 64 px with a 32-px overlap step 32 px: the costliest plan, so run once; the rest step further.
TILINGS = {
    "noise": [(64, 32), (96, 16), (130, 16), (64, 2)],
    "jpeg": [(96, 16), (130, 2)],
    "sr": [(64, 16), (130, 2)],
    "isp": [(96, 16), (130, 2)],
    "isp-plain": [(64, 16), (96, 16), (130, 2)],
}


def restored(task: str, picture: Picture, level: float, tile: int, overlap: int = 32) -> np.ndarray:
    restorer = Restorer.for_task(task, device="cpu", tile=tile, tile_overlap=overlap)
    return restorer.restore(picture, level).picture.pixels


@pytest.fixture(scope="module")
def pictures(sample_pixels, clean_pixels):
    """Real inputs per task: the noisy sample, a quality-20 JPEG, and a small clean crop to upscale x2.5."""
    encoded = io.BytesIO()
    Image.fromarray(clean_pixels[40:136, 20:180]).save(encoded, "JPEG", quality=20)
    return {
        "noise": (Picture(sample_pixels[200:296, 300:460].astype(np.float32) / 255, None, 8, None, None, "png"), 25),
        "jpeg": (read_image(encoded.getvalue()), 20),
        "sr": (Picture(clean_pixels[60:100, 40:104].astype(np.float32) / 255, None, 8, None, None, "png"), 2.5),
    }


@pytest.mark.parametrize("task", ["noise", "jpeg", "sr"])
def test_hyperres_models_tiled_match_the_whole_image(pictures, task):
    picture, level = pictures[task]
    whole = restored(task, picture, level, 0)
    for tile, overlap in TILINGS[task]:
        difference = np.abs(restored(task, picture, level, tile, overlap) - whole).max()
        assert difference <= TOLERANCE, (task, tile, overlap, difference * 255)


@pytest.fixture(scope="module")
def raw_crops():
    """Crops of the sample RAW: for isp a strip with tiles along it, each narrower than its halo."""
    raw = read_raw(SAMPLE_RAW)
    return {
        "isp": replace(raw, mosaic=raw.mosaic[300:332, 200:904]),  # 704 = 96 + 2 x 288 (halo) + 32
        "isp-plain": replace(raw, mosaic=raw.mosaic[300:396, 200:392]),
    }


def developed(name: str, raw, tile: int, overlap: int = 64) -> np.ndarray:
    developer = Developer.for_model(name, device="cpu", tile=tile, tile_overlap=overlap)
    return developer.develop(raw, "neutral").picture.pixels


@pytest.mark.parametrize("name", ["isp", "isp-plain"])
def test_isp_models_tiled_match_the_whole_image(raw_crops, name):
    whole = developed(name, raw_crops[name], 0)
    for tile, overlap in TILINGS[name]:
        difference = np.abs(developed(name, raw_crops[name], tile, overlap) - whole)
        assert difference.max() <= TOLERANCE, (name, tile, overlap, difference.max() * 255)
        if name == "isp":
            assert_no_structure(difference.mean(axis=(0, 2)), tile, overlap)


def assert_no_structure(error: np.ndarray, tile: int, overlap: int) -> None:
    """The per-column error is no larger at tile seams or at any phase of the 32-pixel cell grid than overall."""
    plan = _axis_plan(len(error), tile // 32 * 32, overlap, align=32)
    seams = np.zeros(len(error), bool)
    for before, after in zip(plan, plan[1:], strict=False):
        seams[after.start : before.stop] = True
    typical = error.mean() + 1e-6  # float rounding alone differs by ~1e-7
    assert error[seams].mean() <= 2 * typical
    phases = [error[phase::32].mean() for phase in range(32)]
    assert max(phases) <= 2 * typical
