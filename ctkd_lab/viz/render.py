"""A plotly renderer for notebooks that are both used in JupyterLab and exported to HTML."""
from __future__ import annotations

import json

import plotly.io as pio
from plotly.io._base_renderers import MimetypeRenderer

PLOTLY_MIME = "application/vnd.plotly.v1+json"


class LabAndHtmlRenderer(MimetypeRenderer):
    """plotly mimetype for JupyterLab + a ``text/html`` div that draws with an already-loaded plotly.js."""

    def to_mimebundle(self, fig_dict):
        fig_json = json.loads(pio.to_json(fig_dict, validate=False, remove_uids=False))
        html = pio.to_html(fig_dict, include_plotlyjs=False, full_html=False, validate=False,
                           default_width="100%", default_height=450, auto_play=False)
        return {PLOTLY_MIME: fig_json, "text/html": html}


pio.renderers["ctkd"] = LabAndHtmlRenderer()
pio.renderers.default = "ctkd"


def setup_notebook() -> None:
    """Display plotly.js inline once (offline HTML export) and select the ``ctkd`` renderer."""
    from IPython.display import HTML, display
    from plotly.offline import get_plotlyjs

    pio.renderers.default = "ctkd"
    display(HTML(f'<script type="text/javascript">{get_plotlyjs()}</script>'
                 '<span style="display:none" class="ctkd-plotly-loaded"></span>'))


def show(fig) -> None:
    """Show a figure with the ``ctkd`` renderer (same as ``fig.show()`` after importing ctkd_lab.viz)."""
    fig.show(renderer="ctkd")
