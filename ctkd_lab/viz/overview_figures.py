"""Overview figures for the welcome lesson: the environment table and a run-accuracy bar chart."""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import TEMPLATE, chance_line


def environment_figure(report: dict) -> go.Figure:
    """Two tables from :func:`ctkd_lab.analysis.environment.environment_report`: the machine, the data sets."""
    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    machine = [
        ("device a run would use", report["device"] + (f"  (asked for: {report['device_requested']})"
                                                      if report["device_requested"] != "auto" else "  (auto)")),
        ("python / torch / ctkd_lab", f"{report['python']} / {report['torch']} / {report['ctkd_lab']}"),
        ("CPU: logical cores / torch threads now", f"{report['cpu_count']} / {report['cpu_threads']}"),
        ("threads a run would use", report["run_threads_reason"]),
        ("CUDA available", yes(report["cuda_available"]) + (f": {', '.join(report['cuda_devices'])}"
                                                             if report["cuda_devices"] else "")),
        ("Apple MPS available", yes(report["mps_available"])),
    ]
    rows = report["datasets"]
    fig = make_subplots(rows=2, cols=1, specs=[[{"type": "table"}], [{"type": "table"}]],
                        row_heights=[0.4, 0.6], vertical_spacing=0.04)
    fig.add_trace(go.Table(
        columnwidth=[1, 3],
        header=dict(values=["<b>this machine</b>", "<b>value</b>"], align="left", fill_color="#e8eef7"),
        cells=dict(values=[[k for k, _ in machine], [v for _, v in machine]], align="left", height=26)),
        row=1, col=1)
    fig.add_trace(go.Table(
        columnwidth=[1, 0.6, 3.4],
        header=dict(values=["<b>data set</b>", "<b>available</b>", "<b>where (or how to get it)</b>"],
                    align="left", fill_color="#e8eef7"),
        cells=dict(values=[[r["name"] for r in rows], [yes(r["available"]) for r in rows],
                           [r["where"] for r in rows]], align="left", height=30,
                   fill_color=[["#eaf7ea" if r["available"] else "#fbeaea" for r in rows]] * 3)),
        row=2, col=1)
    fig.update_layout(template=TEMPLATE, height=640, margin=dict(t=50, b=10, l=10, r=10),
                      title="Your environment: where training runs and which data sets the kit can find")
    return fig


def accuracy_bars_figure(accuracies: dict[str, float], title: str, best: dict[str, float] | None = None,
                         colors: dict[str, str] | None = None, chance: float | None = None) -> go.Figure:
    """One bar per labelled run: last-epoch test accuracy (and, if given, a marker at the best epoch's).

    ``chance`` (a fraction): a dotted line at the accuracy of guessing. Labels above full bars are
    not clipped (the axis leaves room up to 112%, ticks stop at 100%).
    """
    labels = list(accuracies)
    fig = go.Figure(go.Bar(
        x=labels, y=[100 * accuracies[k] for k in labels], name="last epoch",
        text=[f"{100 * accuracies[k]:.1f}%" for k in labels], textposition="outside", cliponaxis=False,
        marker_color=[(colors or {}).get(k, "#1f77b4") for k in labels]))
    if best:
        fig.add_trace(go.Scatter(x=labels, y=[100 * best[k] for k in labels], mode="markers", name="best epoch",
                                 marker=dict(symbol="line-ew", size=30, line=dict(width=3, color="black"))))
    fig.update_layout(title=title, template=TEMPLATE, xaxis_title="run", showlegend=bool(best),
                      yaxis=dict(title="test accuracy (%)", range=[0, 112], tickvals=list(range(0, 101, 20))))
    if chance is not None:
        chance_line(fig, 100 * chance, f"chance {100 * chance:.0f}%")
    return fig
