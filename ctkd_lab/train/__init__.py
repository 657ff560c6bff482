"""Training: config, recipes, device placement, the method-agnostic trainer, run folders."""
from .command import train_command
from .config import TrainConfig
from .device import Placement, pick_device, placement_for
from .evaluate import agreement, expected_calibration_error, mean_kl
from .naming import default_out, run_folder_for
from .recipe import load_recipe
from .run_folder import RunFolder, read_jsonl
from .trainer import Trainer, TrainingDiverged, train

__all__ = ["TrainConfig", "Placement", "pick_device", "placement_for", "agreement",
           "expected_calibration_error", "mean_kl", "RunFolder", "read_jsonl", "Trainer",
           "TrainingDiverged", "default_out", "run_folder_for", "train", "load_recipe", "train_command"]


class _CallablePackage(type(__import__("sys"))):
    """This package, callable as :func:`train`: ``import ctkd_lab as kd; kd.train(...)`` trains although
    ``ctkd_lab.train`` is this package (Python sets a package's attribute to its subpackage on import)."""

    def __call__(self, *args, **kwargs):
        return train(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallablePackage
