"""Training: config, device placement, the method-agnostic trainer, run folders."""
from .config import TrainConfig
from .device import Placement, pick_device, placement_for
from .evaluate import agreement, expected_calibration_error, mean_kl
from .naming import default_out, run_folder_for
from .run_folder import RunFolder, read_jsonl
from .trainer import Trainer, TrainingDiverged, train

__all__ = ["TrainConfig", "Placement", "pick_device", "placement_for", "agreement",
           "expected_calibration_error", "mean_kl", "RunFolder", "read_jsonl", "Trainer",
           "TrainingDiverged", "default_out", "run_folder_for", "train"]
