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

Start with :func:`ctkd_lab.train.train` or the notebooks.
"""

__version__ = "0.1.0"
