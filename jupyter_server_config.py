# The Jupyter server that `make lab` starts: `jupyter lab --config=jupyter_server_config.py --notebook-dir=notebooks`.
# tests/test_lab_server.py starts it the same way (through `make lab`) and checks each setting below.
from pathlib import Path

from ctkd_lab.lab_server import LessonsContentsManager, lessons_save_hook, untracked_message_types

c = get_config()  # noqa: F821 (defined by Jupyter when it loads this file)

# A container (and many teaching machines) runs as root; the lab must start there too.
c.ServerApp.allow_root = True

# The lessons are stored without outputs: a notebook saved directly in notebooks/ (autosave included)
# is written without outputs, execution counts or widget state, and the same save writes the notebook
# as it was, outputs included, to notebooks/outputs/<lesson>.ipynb (git-ignored). Notebooks in a
# subfolder keep their outputs.
# The hook also drops the kernel's additions to language_info and keeps metadata numbers as the file
# spells them (JupyterLab turns 0.0 into 0), and a lesson saved unchanged is not rewritten at all:
# saving a lesson leaves `git status` clean.
LESSONS = Path(__file__).resolve().parent / "notebooks"
c.FileContentsManager.pre_save_hook = lessons_save_hook(LESSONS)
c.ServerApp.contents_manager_class = LessonsContentsManager
c.LessonsContentsManager.lessons = str(LESSONS)

# "Busy" means busy: the kernel's state (status bar, /api/kernels) ignores the subshell requests
# JupyterLab sends while a cell runs, and the widgets' messages stay off subshells (lab_settings/
# overrides.json), so a panel's callback runs after the running cell, in the kernel's main thread.
c.MappingKernelManager.untracked_message_types = untracked_message_types()
c.LabApp.app_settings_dir = str(Path(__file__).resolve().parent / "lab_settings")

# One kernel, the kit's: `make setup` installs it into .venv (ipykernel install --sys-prefix --name ctkd-lab)
# and every lesson names it in its metadata; the native "Python 3 (ipykernel)" is hidden.
c.KernelSpecManager.ensure_native_kernel = False
c.KernelSpecManager.allowed_kernelspecs = {"ctkd-lab"}
c.MappingKernelManager.default_kernel_name = "ctkd-lab"
