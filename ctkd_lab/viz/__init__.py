"""Plotly figures built from run histories and analysis results.

A figure is data -> figure: every function takes records or arrays (the caller loads a run folder
with :mod:`ctkd_lab.analysis.runs`), and :mod:`ctkd_lab.viz.style` holds the names and colours of
roles and methods, the units (accuracy in %) and readable log-axis ticks.

Importing this package selects the ``ctkd`` plotly renderer: every ``fig.show()`` emits both the
plotly mimetype (interactive in JupyterLab, with the ``jupyterlab-plotly`` extension that ships
with plotly) and an HTML fallback (what nbconvert's HTML export shows). Call
:func:`setup_notebook` once at the top of a notebook: it puts plotly.js itself into the output,
so exported HTML pages draw their figures offline.
"""
from .render import setup_notebook, show

__all__ = ["setup_notebook", "show"]
