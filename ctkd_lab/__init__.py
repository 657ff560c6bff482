"""ctkd-lab: a Jupyter teaching kit for knowledge distillation.

Layers (each imports only from the ones above it): data, models, losses, methods, train,
analysis, viz, widgets, cli. Start with :func:`ctkd_lab.train.train` or the notebooks.
"""

__version__ = "0.1.0"
