"""Orchestration: running studies and reusing runs (above analysis, which only reads run folders)."""
from ..train.naming import run_folder_for, study_folder
from .plan import compare_command, options_for, plan_study
from .run import ensure_run, ensure_runs, run_study

__all__ = ["compare_command", "ensure_run", "ensure_runs", "options_for", "plan_study", "run_folder_for", "run_study",
           "study_folder"]
