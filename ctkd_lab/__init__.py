"""ctkd-lab: a Jupyter teaching kit for knowledge distillation.

Layers (each imports only from the ones above it; ``tests/test_layers.py`` enforces it):

    errors, registry          the one user-error type; the one name registry
    data, models, losses, zoo data sets, networks, loss functions, pre-trained teachers by name (peers:
                              none imports another)
    methods                   one file per method: roles, options, one step's named losses
    train                     the trainer, run folders and their names
    analysis                  reading runs, statistics, attention maps, evaluation of checkpoints
    study                     orchestration: running studies, reusing runs
    viz, widgets              figures from data; ipywidgets panels over them
    cli, lab_server           `ctkd-lab ...`; the hook that keeps lesson outputs out of git

Start with the notebooks, or ``import ctkd_lab as kd`` (the names a lesson uses: ``kd.train``,
``kd.load_dataset``, ``kd.build_model``, the losses, the figures and the panels; see ``__all__``).
"""
from __future__ import annotations

__version__ = "0.1.0"

# ------------------------------------------------------------------------------------------------
# The front door: ``import ctkd_lab as kd`` gives what a lesson uses, by name (``kd.train(...)``,
# ``kd.kd_loss(...)``, ``kd.LossWeightLab(...)``). Each name is imported from its home module on
# first use, so ``import ctkd_lab`` stays fast (no torch, plotly or ipywidgets until a name needs
# them). tests/test_front_door.py checks that every name resolves and that ``__all__`` lists them all.
# ------------------------------------------------------------------------------------------------

_FRONT_DOOR: dict[str, tuple[str, ...]] = {
    # train and reuse runs
    # (``kd.train`` is the package ctkd_lab.train, callable as ctkd_lab.train.train: see train/__init__.py)
    "ctkd_lab": ("train",),
    "ctkd_lab.train": ("TrainConfig", "load_recipe", "pick_device"),
    "ctkd_lab.study": ("ensure_run", "ensure_runs", "run_study", "study_folder", "compare_command"),
    "ctkd_lab.study.chain": ("run_chain",),
    "ctkd_lab.study.capacity": ("run_capacity_gap",),
    # a lesson's runs (study/<topic>_runs.py)
    "ctkd_lab.study.chain_lab_runs": ("ChainLabSession", "ChainSetting", "chain_folder", "chain_params",
                                      "copy_finished_runs"),
    "ctkd_lab.study.teskd_runs": ("TESKDLabSession", "TESKDSetting", "expert_entries", "export_teachers"),
    "ctkd_lab.study.quant_runs": ("QuantLabSession",),
    "ctkd_lab.study.budget_runs": ("BudgetArm", "scaled_arm", "train_grid", "loss_scale_identity"),
    # read and evaluate runs and studies
    "ctkd_lab.analysis.runs": ("run_metrics", "run_config", "epoch_records", "step_records", "probe_records",
                               "series", "readable_metrics"),
    "ctkd_lab.analysis.evaluate_checkpoint": ("evaluate_checkpoint",),
    "ctkd_lab.analysis.environment": ("environment_report",),
    "ctkd_lab.analysis.study_runs": ("study_runs", "study_points"),
    "ctkd_lab.analysis.study_stats": ("compare_to_baseline",),
    "ctkd_lab.analysis.study_tables": ("markdown_table",),
    "ctkd_lab.analysis.learning_curves": ("seed_curves",),
    "ctkd_lab.analysis.fidelity": ("fidelity_to_teacher",),
    "ctkd_lab.analysis.chain_summary": ("chain_markdown",),
    # what networks compute: soft targets, logit trajectories, attention and Grad-CAM maps
    "ctkd_lab.analysis.soft_targets": ("test_set_logits", "log_temperatures", "loss_vs_temperature",
                                       "kd_loss_and_grad", "kd_grad_formula", "high_temperature_limit",
                                       "class_similarity", "top_wrong_classes"),
    "ctkd_lab.analysis.trajectory": ("probe_trajectories", "image_trajectories", "align_probe_records",
                                     "probe_distance"),
    "ctkd_lab.analysis.attention": ("attention_maps", "attention_agreement"),
    "ctkd_lab.analysis.attribution": ("gradcam", "denormalise"),
    # verdicts that respect the noise
    "ctkd_lab.analysis.verdicts": ("chance_level", "chance_note", "judge_gap", "one_seed_verdict", "gap_verdict",
                                   "accs_text"),
    # what a lesson reads and judges from its runs (analysis/<topic>_readings.py)
    "ctkd_lab.analysis.loss_weight_readings": ("lab_config",),
    "ctkd_lab.analysis.chain_readings": ("capacity_verdicts", "chain_verdicts", "rows_for_seeds", "student_entries"),
    "ctkd_lab.analysis.teskd_readings": ("teskd_architecture", "teskd_verdicts", "one_way_verdicts", "lab_lines",
                                         "agreement_lines", "expert_verdicts", "loss_share_lines", "compare_entries"),
    "ctkd_lab.analysis.quant_readings": ("bits_text", "quantizer_curves", "quantizer_lines", "quantizer_inputs",
                                         "activation_stats", "activation_lines", "weight_stats", "weight_lines",
                                         "load_method", "ensemble_targets", "pick_images", "ensemble_lines",
                                         "importance_lines", "bits_lines", "teacher_lines", "mutual_lines"),
    "ctkd_lab.analysis.budget_readings": ("PLANNED_RUNS", "compare_at_budget", "budget_lines", "identity_lines",
                                          "measure_noise", "noise_lines", "read_programme", "progress_lines",
                                          "claim_lines", "lr_control_lines"),
    # data sets, networks, methods
    "ctkd_lab.data": ("load_dataset", "eval_loader", "Split", "dataset_names"),
    "ctkd_lab.models": ("build_model", "list_models", "count_parameters"),
    "ctkd_lab.methods": ("method_names",),
    "ctkd_lab.methods.teachers": ("network_from_checkpoint", "checkpoint_image_size"),
    # the losses (one formula each; the math in each docstring)
    "ctkd_lab.losses": ("ce_loss", "kd_loss", "logit_hint_loss", "attention_map", "attention_loss",
                        "attention_losses", "fitnet_loss", "make_regressor", "mutual_kl_loss",
                        "dense_guidance_loss", "dense_guidance_terms", "keep_mask", "min_logit_ensemble",
                        "fidelity", "pair_stages"),
    "ctkd_lab.losses.teskd": ("teskd_terms",),
    # figures (viz/<topic>_figures.py)
    "ctkd_lab.viz": ("setup_notebook", "show"),
    "ctkd_lab.viz.style": ("chance_line",),
    "ctkd_lab.viz.training_figures": ("epoch_curves", "step_curves", "runs_figure"),
    "ctkd_lab.viz.overview_figures": ("accuracy_bars_figure", "environment_figure"),
    "ctkd_lab.viz.soft_target_figures": ("distribution_figure", "kd_loss_figure", "gradient_figure",
                                         "gradient_norm_figure", "class_similarity_figure"),
    "ctkd_lab.viz.trajectory_figures": ("trajectory_figure", "trajectory_animation", "image_trajectory_figure",
                                        "distance_figure", "learning_steps_figure", "closeness_steps_figure",
                                        "epoch_lines_figure"),
    "ctkd_lab.viz.attention_figures": ("attention_figure", "gradcam_figure", "agreement_figure"),
    "ctkd_lab.viz.comparison_figures": ("accuracy_bars", "accuracy_vs_params", "fidelity_calibration_figure",
                                        "learning_curves"),
    "ctkd_lab.viz.chain_figures": ("chain_graph_figure", "stochastic_teaching_figure", "capacity_gap_figure",
                                   "chain_comparison_figure", "chain_accuracy_figure", "kept_steps"),
    "ctkd_lab.viz.teskd_figures": ("architecture_figure", "accuracy_per_epoch_figure", "loss_terms_figure",
                                   "branch_agreement_figure", "lab_figure", "expert_figure"),
    "ctkd_lab.viz.quant_figures": ("quantizer_figure", "activation_histogram_figure", "weight_histogram_figure",
                                   "bits_figure", "importance_figure", "ensemble_figure"),
    "ctkd_lab.viz.budget_figures": ("budget_figure", "accuracy_figure", "seeds_figure", "lr_control_figure"),
    # panels (ipywidgets; widgets/<topic>_panel.py)
    "ctkd_lab.widgets.temperature_panel": ("temperature_widget",),
    "ctkd_lab.widgets.trajectory_panel": ("image_trajectory_widget",),
    "ctkd_lab.widgets.attention_panel": ("attention_explorer",),
    "ctkd_lab.widgets.loss_weight_panel": ("LossWeightLab",),
    "ctkd_lab.widgets.chain_panel": ("ChainLab",),
    "ctkd_lab.widgets.teskd_panel": ("TESKDLab",),
    "ctkd_lab.widgets.quant_panel": ("QuantizerExplorer",),
    "ctkd_lab.widgets.budget_panel": ("LossScalePanel",),
    "ctkd_lab.widgets.outputs": ("figure_outputs",),
    # the one user-error type
    "ctkd_lab.errors": ("UserError",),
}
_HOME: dict[str, str] = {name: module for module, names in _FRONT_DOOR.items() for name in names}
__all__ = sorted(_HOME)


def __getattr__(name: str):
    """Import a front-door name from its home module on first use (PEP 562)."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'ctkd_lab' has no attribute {name!r}; the names a lesson uses are in "
                             f"ctkd_lab.__all__, the rest in the subpackages (ctkd_lab.train, ctkd_lab.viz, ...)")
    import importlib

    value = importlib.import_module(f"ctkd_lab.{name}") if module == "ctkd_lab" else \
        getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
