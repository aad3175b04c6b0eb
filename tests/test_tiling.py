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
from enhance_cli.develop import Developer, DevelopOptions, balanced_mosaic
from enhance_cli.imageio import Picture, read_image
from enhance_cli.nn import Footprint
from enhance_cli.rawio import read_raw
from enhance_cli.registry import WEIGHTS_DIR, build_architecture, find_card, load_model
from enhance_cli.restorer import LoadedModel, Restorer
from enhance_cli.tiling import _axis_plan, axis_layout, check_tile, plan_for_budget, plan_tiles, run_tiled, tile_count
from tests.conftest import ROOT

SAMPLE_RAW = ROOT / "samples" / "colorchart.dng"
# The README promises 2/255; with a halo of the receptive field only float rounding (~1e-7) remains.
TOLERANCE = 1e-4


# --- the plan ----------------------------------------------------------------------------------------


def axis_plan(length: int, tile: int, overlap: int, align: int = 1, halo: int = 0):
    """One axis of :func:`plan_tiles`: the fewest tiles of at most ``tile``."""
    return _axis_plan(length, tile_count(length, tile, overlap, align), overlap, align, halo)


@pytest.mark.parametrize(
    "length,tile,overlap,align",
    [(100, 40, 16, 1), (1000, 256, 32, 1), (257, 64, 32, 1), (64, 64, 32, 1), (300, 299, 32, 1), (129, 64, 0, 1)]
    + [(1024, 96, 2, 32), (1024, 32, 64, 32), (160, 64, 32, 16), (1000, 130, 48, 2)],
)
def test_blend_weights_sum_to_one(length, tile, overlap, align):
    total = np.zeros(length, np.float32)
    for part in axis_plan(length, tile, overlap, align, halo=40):
        total[part.start : part.stop] += part.weights
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_blend_weights_sum_to_one_for_any_plan():
    rng = np.random.default_rng(0)
    for _ in range(300):
        align = int(rng.choice([1, 2, 16, 32]))
        length = int(rng.integers(1, 40)) * align
        tile = max(align, int(rng.integers(1, 400)) // align * align)
        total = np.zeros(length, np.float32)
        for part in axis_plan(length, tile, int(rng.integers(0, 200)), align, halo=int(rng.integers(0, 300))):
            total[part.start : part.stop] += part.weights
            assert part.first % align == part.start % align == part.end % align == 0
        np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_tiles_cover_the_image_overlapping_by_exactly_the_overlap():
    layout = axis_layout(1000, tile_count(1000, 256, 32), 32)
    assert layout[0][0] == 0 and sum(layout[-1]) == 1000 and max(size for _, size in layout) <= 256
    assert all(a + size - b == 32 for (a, size), (b, _) in zip(layout, layout[1:], strict=False))


def test_tiles_split_the_image_evenly():
    """The fewest tiles that fit, then sized evenly: an image just over one tile gets two halves, not two
    tiles that each cover nearly all of it."""
    plan = axis_plan(1100, 1000, 32)
    assert [part.size for part in plan] == [566, 566] and plan[1].stop == 1100
    plan = axis_plan(1760, 576, 64, align=32)  # 55 cells + 3 overlaps of 2 cells, in 4 tiles
    assert [part.size for part in plan] == [512, 480, 480, 480] and plan[-1].stop == 1760


def test_every_tile_gets_the_halo_clipped_at_the_border():
    plan = axis_plan(1000, 256, 32, halo=40)
    assert plan[0].first == 0 and plan[-1].end == 1000
    for part in plan:
        assert part.first == max(0, part.start - 40) and part.end == min(1000, part.stop + 40)


def test_tile_extents_stay_on_the_cell_grid():
    """Halo included, every extent starts and ends on the alignment (isp: its 32-pixel HyperConvolution cells)."""
    plan = axis_plan(1024, 128, 32, align=32, halo=285)
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
    # Tiles that abut: only the halo gives context.
    enough = run_tiled(box_blur(5), image, plan_tiles(*image.shape[:2], 48, 0, halo=5))
    assert enough.tiles == 12
    np.testing.assert_allclose(enough.image, whole, atol=1e-6)
    short = run_tiled(box_blur(5), image, plan_tiles(*image.shape[:2], 48, 0, halo=4))
    assert np.abs(short.image - whole).max() > 1e-3


def test_processed_pixels_count_what_the_network_saw():
    seen = []

    def record(batch):
        seen.append(batch.shape[-2] * batch.shape[-1])
        return batch

    image = np.zeros((123, 201, 3), np.float32)
    result = run_tiled(record, image, plan_tiles(123, 201, 64, 16, 2, 20))
    assert result.processed_pixels == sum(seen) > 124 * 202  # halos and overlaps are work too
    assert run_tiled(record, image, plan_tiles(123, 201, 0, 16, 2, 20)).processed_pixels == 124 * 202


def test_pointwise_function_is_unchanged_by_tiling():
    image = np.random.default_rng(0).random((123, 201, 3), dtype=np.float32)
    result = run_tiled(lambda x: x * 2, image, plan_tiles(*image.shape[:2], 48, 16))
    assert result.tiles > 1
    np.testing.assert_allclose(result.image, image * 2, atol=1e-6)


def test_budget_plan_keeps_every_tile_with_its_halo_within_the_budget():
    assert plan_for_budget(100, 100, 1e6, 32, halo=39).tiles == 1
    plan = plan_for_budget(4000, 4000, 400_000, 32, align=16, halo=39)
    assert plan.tiles > 1 and plan.largest_input <= 400_000
    assert all(part.start % 16 == part.size % 16 == part.first % 16 == 0 for part in plan.rows + plan.columns)
    assert plan_for_budget(4000, 4000, 1000, 32, halo=39).rows[0].size == 64  # a tiny budget: the smallest tiles


def test_budget_plan_splits_the_image_evenly_into_as_few_tiles_as_fit():
    plan = plan_for_budget(1024, 1024, 900_000, 32, halo=39)  # just over the budget: halves, not 4 near-copies
    assert plan.tiles == 2 and plan.processed_pixels <= 1024 * (1024 + 32 + 2 * 39)


def test_a_wide_image_gets_one_row_of_tall_tiles():
    plan = plan_for_budget(600, 3000, 700_000, 32, halo=39)  # one row: no halo across, tiles 600 x ~1100
    assert (len(plan.rows), len(plan.columns)) == (1, 3)
    assert plan.largest_input <= 700_000


# Image sizes from a thumbnail to a stitched panorama, in the aspect ratios of cameras, phones and scans.
SWEEP_MEGAPIXELS = [0.1, 0.3, 0.6, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 36, 50, 75, 100]
SWEEP_ASPECTS = [1, 4 / 3, 3 / 2, 16 / 9, 3, 2 / 3, 9 / 16, 1 / 3]
TILED_MODELS = ["hyperres-noise", "hyperres-jpeg", "hyperres-sr", "isp", "isp-v2", "isp-v2-plain"]


@pytest.fixture(scope="module")
def loaded_models():
    return {name: LoadedModel(find_card(name=name), device="cpu") for name in TILED_MODELS}


@pytest.mark.parametrize("name", TILED_MODELS)
def test_default_plan_does_at_most_15_percent_more_than_the_halo_needs(loaded_models, name):
    """Processed pixels / image pixels <= 1.15 plus the halo's unavoidable share: the halos of the same tile
    count on the model's grid, and the padding to it that a whole-image run needs too."""
    model = loaded_models[name]
    halo = -(-model.tile_halo // model.tile_align) * model.tile_align
    for megapixels in SWEEP_MEGAPIXELS:
        for aspect in SWEEP_ASPECTS:
            width = round((megapixels * 1e6 * aspect) ** 0.5)
            height = round(megapixels * 1e6 / width)
            plan = model.plan_for(height, width)
            assert plan.largest_input <= model.model.tile_pixels or plan.tiles == 1
            pixels = height * width
            halos = (plan.height + 2 * halo * (len(plan.rows) - 1)) * (plan.width + 2 * halo * (len(plan.columns) - 1))
            ratio, share = plan.processed_pixels / pixels, halos / pixels - 1
            assert ratio <= 1.15 + share, (name, height, width, plan.tiles, ratio, share)


@pytest.mark.parametrize("name", ["hyperres-noise", "hyperres-jpeg", "hyperres-sr"])
@pytest.mark.parametrize("size", [(1000, 1000), (866, 1155), (816, 1224), (750, 1333)])
def test_one_megapixel_costs_at_most_1_2_times_a_small_image(loaded_models, name, size):
    """FLOPs per pixel at 1 MP within 1.2x of an image processed whole (padded to the model's grid, as tiles are)."""
    plan = loaded_models[name].plan_for(*size)
    assert plan.tiles > 1  # past the fast tile size, so this is the tiled path
    assert plan.processed_pixels / (plan.height * plan.width) <= 1.2, plan.tiles


def test_memory_caps_the_tiles(loaded_models):
    model = loaded_models["hyperres-noise"]
    capped = LoadedModel(find_card(name="hyperres-noise"), device="cpu", memory=64 << 20)
    budget = (64 << 20) / model.model.working_bytes_per_pixel
    assert capped.plan_for(3000, 4000).largest_input <= budget < model.plan_for(3000, 4000).largest_input


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


@pytest.mark.parametrize("memory", ["0", "-5M", "lots", "2T"])
def test_cli_refuses_a_memory_that_is_not_a_size(small_png, tmp_path, memory):
    output = tmp_path / "out.png"
    arguments = ["restore", str(small_png), "--level", "25", "--memory", memory, "-o", str(output)]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 2 and "--memory" in result.stderr
    assert not output.exists()


def test_memory_shrinks_the_tiles_of_a_run(small_png, tmp_path):
    report = tmp_path / "run.json"
    arguments = ["restore", str(small_png), "--level", "25", "-o", str(tmp_path / "out.png"), "--report", str(report)]
    assert CliRunner().invoke(app, arguments).exit_code == 0
    assert json.loads(report.read_text())["images"][0]["tiles"] == 1
    assert CliRunner().invoke(app, [*arguments, "--memory", "2M", "--overwrite"]).exit_code == 0
    assert json.loads(report.read_text())["images"][0]["tiles"] > 1  # 2 MiB: a few thousand pixels per tile


def test_tile_function_sees_no_gradients():
    seen = []

    def record(batch):
        seen.append(torch.is_grad_enabled())
        return batch

    run_tiled(record, np.zeros((8, 8, 3), np.float32), plan_tiles(8, 8, 0))
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


@pytest.mark.parametrize(
    "name,long_side", [("hyperres-noise", 128), ("isp", 128), ("isp-v2", 640), ("isp-v2-plain", 128)]
)
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
        assert min(radius * 0.97, radius - 1) <= measured <= radius, (axis, measured, radius)


def test_cards_record_the_receptive_field():
    recorded = {}
    for path in WEIGHTS_DIR.glob("*.json"):
        card = json.loads(path.read_text())
        model = build_architecture(card["architecture"], card["config"])
        if hasattr(model, "receptive_field"):  # the restoration models, which run in tiles
            recorded[card["name"]] = card.get("receptive_field")
            assert recorded[card["name"]] == model.receptive_field, card["name"]
            assert card.get("tile_halo") == model.tile_halo, card["name"]
            assert card.get("tile_pixels") == model.tile_pixels, card["name"]
    assert recorded["isp-v2"] > recorded["isp-v2-plain"] > recorded["hyperres-noise"] > 0
    assert json.loads((WEIGHTS_DIR / "isp-v2.json").read_text())["tile_halo"] < recorded["isp-v2"]  # see IspUNet
    assert json.loads((WEIGHTS_DIR / "isp.json").read_text())["tile_halo"] == recorded["isp"]  # exact: no HC


# --- shipped models, tiled against the whole image ---------------------------------------------------
# Tiles of 64 px with a 32-px overlap step 32 px: the costliest plan, so run once; the rest step further.
TILINGS = {
    "noise": [(64, 32), (96, 16), (130, 16), (64, 2)],
    "jpeg": [(96, 16), (130, 2)],
    "sr": [(64, 16), (130, 2)],
    "isp": [(64, 16), (96, 16), (130, 2)],
    "isp-v2": [(96, 16), (130, 2)],
    "isp-v2-plain": [(64, 16), (96, 16), (130, 2)],
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
        "isp": replace(raw, mosaic=raw.mosaic[300:396, 200:392]),
        "isp-v2": replace(raw, mosaic=raw.mosaic[300:332, 200:904]),  # 704 = 96 + 2 x 288 (halo) + 32
        "isp-v2-plain": replace(raw, mosaic=raw.mosaic[300:396, 200:392]),
    }


def developed(name: str, raw, tile: int, overlap: int = 64) -> np.ndarray:
    developer = Developer.for_model(name, device="cpu", tile=tile, tile_overlap=overlap)
    return developer.develop(raw, DevelopOptions(tone="neutral")).picture.pixels


@pytest.mark.parametrize("name", ["isp", "isp-v2", "isp-v2-plain"])
def test_isp_models_tiled_match_the_whole_image(raw_crops, name):
    whole = developed(name, raw_crops[name], 0)
    for tile, overlap in TILINGS[name]:
        difference = np.abs(developed(name, raw_crops[name], tile, overlap) - whole)
        assert difference.max() <= TOLERANCE, (name, tile, overlap, difference.max() * 255)
        if name == "isp-v2":
            assert_no_structure(difference.mean(axis=(0, 2)), tile, overlap)


def assert_no_structure(error: np.ndarray, tile: int, overlap: int) -> None:
    """The per-column error is no larger at tile seams or at any phase of the 32-pixel cell grid than overall."""
    plan = axis_plan(len(error), tile // 32 * 32, overlap, align=32)
    seams = np.zeros(len(error), bool)
    for before, after in zip(plan, plan[1:], strict=False):
        seams[after.start : before.stop] = True
    typical = error.mean() + 1e-6  # float rounding alone differs by ~1e-7
    assert error[seams].mean() <= 2 * typical
    phases = [error[phase::32].mean() for phase in range(32)]
    assert max(phases) <= 2 * typical
