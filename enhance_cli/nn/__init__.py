"""Network building blocks shared by the model architectures."""

from enhance_cli.nn.hyperconv import HyperConv2d
from enhance_cli.nn.level_conv import LevelConv2d, set_level
from enhance_cli.nn.receptive_field import Footprint
from enhance_cli.nn.slimmable import SlimConv2d

__all__ = ["Footprint", "HyperConv2d", "LevelConv2d", "SlimConv2d", "set_level"]
