import cv2
import pytest
from PIL import Image

from enhance_cli.imageio import read_image
from enhance_cli.jpeg_quality import quality_from_tables


@pytest.mark.parametrize("quality", [5, 10, 37, 50, 75, 90, 95, 100])
def test_quality_of_a_pillow_jpeg_is_exact(tmp_path, sample_pixels, quality):
    path = tmp_path / "photo.jpg"
    Image.fromarray(sample_pixels).save(path, quality=quality)
    estimate = quality_from_tables(read_image(path).info["jpeg_quantization"])
    assert (estimate.quality, estimate.exact) == (quality, True)


def test_quality_of_an_opencv_greyscale_jpeg_is_exact(tmp_path, sample_pixels):
    path = tmp_path / "grey.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(sample_pixels, cv2.COLOR_RGB2GRAY), [cv2.IMWRITE_JPEG_QUALITY, 63])
    with Image.open(path) as image:
        assert len(image.quantization) == 1
        assert quality_from_tables(image.quantization).quality == 63


def test_own_tables_get_the_nearest_quality(tmp_path, sample_pixels):
    path = tmp_path / "camera.jpg"
    Image.fromarray(sample_pixels).save(path, quality=80)
    with Image.open(path) as image:
        tables = {key: [min(255, round(step * 1.15)) for step in table] for key, table in image.quantization.items()}
    estimate = quality_from_tables(tables)
    assert not estimate.exact and 75 <= estimate.quality < 80


def test_no_tables_is_an_error():
    with pytest.raises(ValueError):
        quality_from_tables({})
