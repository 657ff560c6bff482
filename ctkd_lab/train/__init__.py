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
