"""Model architectures, one file each; importing this package registers them."""

from enhance_cli.models import (  # noqa: F401
    dds_net,
    dds_unet,
    dense_demosaic,
    dncnn,
    hyperres,
    isp_dense,
    isp_unet,
    level_estimator,
    quality_estimator,
    xtrans_demosaic,
)
