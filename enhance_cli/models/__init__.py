"""Model architectures, one file each; importing this package registers them."""

from enhance_cli.models import dds_net, dds_unet, dncnn, hyperres, isp_unet, level_estimator, quality_estimator  # noqa: F401
