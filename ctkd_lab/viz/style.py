"""How every figure of the kit looks: role and method names and colours, units, readable log axes.

    from ctkd_lab.viz.style import role_color, role_name, percent_axis, log_axis

* Roles (``student``, ``scratch_teacher``, ``expert_teacher``, ...) are named by
  :data:`ROLE_NAMES` (defined in :mod:`ctkd_lab.analysis.runs`, which labels tables with them;
  re-exported here) and coloured by :data:`ROLE_COLORS`, the same in every lesson.
* Methods (``vanilla``, ``kd``, ``ctkd``...) are coloured by :data:`METHOD_COLORS`.
* Units: accuracies and agreements are fractions in every record and are drawn in percent
  (:func:`is_fraction`, :func:`percent_axis`, :func:`value_format`).
* Log axes get 1-2-5 ticks (0.5, 1, 2, 5, 10, 20, 50...) or powers of ten, never plotly's bare
  "5 6 7 8 9 1 2 3" (:func:`log_axis`).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

import plotly.graph_objects as go
from plotly.colors import qualitative

from ..analysis.runs import ROLE_NAMES

__all__ = ["FALLBACK_COLORS", "METHOD_COLORS", "PALETTE", "ROLE_COLORS", "ROLE_NAMES", "TEMPLATE", "chance_line",
           "is_fraction", "log_axis", "log_ticks", "method_color", "palette_color", "percent_axis", "role_color",
           "role_name", "si_text", "tick_text", "value_format"]

#: the plotly template of every figure
TEMPLATE = "plotly_white"

#: one colour per role, the same in every figure
ROLE_COLORS: dict[str, str] = {"student": "#1f77b4", "scratch_teacher": "#d62728", "expert_teacher": "#2ca02c",
                               "teacher": "#d62728", "peer": "#9467bd", "solo_student": "#7f7f7f"}
#: colours for roles (or labels) that have none of their own, by position
FALLBACK_COLORS: tuple[str, ...] = ("#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22")

#: one colour per method, the same in every figure of a comparison
METHOD_COLORS: dict[str, str] = {"vanilla": "#7f7f7f", "kd": "#1f77b4", "at": "#17becf", "fitnet": "#bcbd22",
                                 "dml": "#8c564b", "ctkd-scratch": "#ff7f0e", "ctkd-expert": "#2ca02c",
                                 "ctkd": "#d62728"}

#: colours for numbered things (lab runs, networks in a bar chart), in order
PALETTE: tuple[str, ...] = tuple(qualitative.Plotly)


def role_name(role: str, names: Mapping[str, str] | None = None) -> str:
    """The legend name of ``role``: ``names`` first, then :data:`ROLE_NAMES`, else the role with spaces."""
    return (names or {}).get(role, ROLE_NAMES.get(role, role.replace("_", " ")))


def role_color(role: str, colors: Mapping[str, str] | None = None, index: int = 0) -> str:
    """The colour of ``role``: ``colors`` first, then :data:`ROLE_COLORS`, else a fallback by ``index``."""
    return (colors or {}).get(role, ROLE_COLORS.get(role, FALLBACK_COLORS[index % len(FALLBACK_COLORS)]))


def method_color(method: str, index: int = 0) -> str:
    """The colour of ``method`` (a fixed one for the kit's methods, else from :data:`PALETTE` by ``index``)."""
    return METHOD_COLORS.get(method, PALETTE[index % len(PALETTE)])


def palette_color(index: int) -> str:
    """The ``index``-th colour (0-based) of :data:`PALETTE`, cycling."""
    return PALETTE[index % len(PALETTE)]


# -- units ----------------------------------------------------------------------------------------
def is_fraction(key: str) -> bool:
    """Whether a history or metrics key holds a fraction drawn in percent (accuracies, agreements)."""
    name = key.rsplit("/", 1)[0] if "/" in key else key
    return "acc" in name or "agreement" in name


def value_format(key: str) -> str:
    """A d3 format for hover text: ``.1%`` for fractions (see :func:`is_fraction`), else ``.3f``."""
    return ".1%" if is_fraction(key) else ".3f"


def percent_axis(fig: go.Figure, axis: str = "y", **where) -> go.Figure:
    """Show an axis of fractions in percent (``0.5`` is drawn as ``50%``); ``where``: ``row=``, ``col=``.

    Two decimals with trailing zeros trimmed (``50%``, ``7.5%``, ``0.25%``): a narrow range such as
    6-8% keeps distinct tick labels, which ``.0%`` would round to ``8% 8% 7% 7% 6%``.
    """
    update = fig.update_yaxes if axis == "y" else fig.update_xaxes
    update(tickformat=".2~%", **where)
    return fig


# -- log axes -------------------------------------------------------------------------------------
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def tick_text(value: float) -> str:
    """``0.5``, ``20``, ``0.001``; outside 0.001..99,999 a power of ten: ``10⁻⁵``, ``2·10⁶``."""
    if 1e-3 <= abs(value) < 1e5:
        return f"{value:g}"
    mantissa, exponent = f"{value:.0e}".split("e")
    power = "10" + str(int(exponent)).translate(_SUPERSCRIPT)
    return power if mantissa == "1" else f"{mantissa}·{power}"


def si_text(value: float) -> str:
    """Counts with a suffix: ``500``, ``20k``, ``1.5M`` (parameter counts)."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def log_ticks(low: float, high: float) -> list[float]:
    """Tick values for a log axis from ``low`` to ``high`` (both > 0) that a reader can read.

    Up to 4 decades: 1, 2, 5 times powers of ten (0.5, 1, 2, 5, 10, 20, 50...); wider: powers of
    ten only (every second or third one beyond 8 or 16 decades). A range with fewer than three such
    ticks gets 1, 1.5, 2, 3, ... 9 times powers of ten, and a narrower one still its two ends.
    """
    if not (low > 0 and high > 0):
        raise ValueError(f"a log axis needs positive bounds, got {low!r} and {high!r}")
    low, high = min(low, high), max(low, high)
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    span = math.log10(high / low)
    if span > 4:
        every = 1 if span <= 8 else 2 if span <= 16 else 3
        return [10.0 ** k for k in range(first, last + 1)
                if k % every == 0 and low * 0.999 <= 10.0 ** k <= high * 1.001]
    for mantissas in ((1, 2, 5), (1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = [float(f"{m * 10.0 ** k:.12g}") for k in range(first, last + 1) for m in mantissas]
        ticks = [t for t in ticks if low * 0.999 <= t <= high * 1.001]
        if len(ticks) >= 3:
            return ticks
    return [float(f"{low:.2g}"), float(f"{high:.2g}")]


def log_axis(fig: go.Figure, values: Iterable[float], axis: str = "y",
             text: Callable[[float], str] = tick_text, **where) -> go.Figure:
    """Make an axis logarithmic with :func:`log_ticks` over the positive ``values`` it shows.

    ``text`` formats each tick (:func:`tick_text`, or :func:`si_text` for counts); ``where``:
    ``row=``, ``col=`` of a subplot. Without a positive value the axis is only made logarithmic.
    """
    update = fig.update_yaxes if axis == "y" else fig.update_xaxes
    positive = [float(v) for v in values if v is not None and math.isfinite(float(v)) and float(v) > 0]
    if not positive:
        update(type="log", **where)
        return fig
    ticks = log_ticks(min(positive), max(positive))
    update(type="log", tickmode="array", tickvals=ticks, ticktext=[text(t) for t in ticks], **where)
    return fig


def chance_line(fig: go.Figure, y: float, text: str, **where) -> go.Figure:
    """A dotted grey line at ``y`` (the accuracy of guessing, in the axis' own unit) labelled ``text``."""
    fig.add_hline(y=y, line=dict(color="#888", dash="dot", width=1.5), annotation_text=text,
                  annotation_position="bottom right", annotation_font=dict(size=10, color="#666"), **where)
    return fig


def animation_controls(frame_names: Iterable[str], prefix: str, duration_ms: int, buttons_y: float,
                       slider_y: float) -> dict:
    """``updatemenus`` and ``sliders`` for an animated figure: a play/pause pair at the left and a slider over
    ``frame_names`` (its current value shown after ``prefix``). Pass the result to ``fig.update_layout``."""
    play = dict(frame=dict(duration=duration_ms, redraw=True), transition=dict(duration=0), fromcurrent=True,
                mode="immediate")
    pause = dict(frame=dict(duration=0, redraw=False), mode="immediate")
    jump = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    return dict(
        updatemenus=[dict(type="buttons", direction="left", x=0, y=buttons_y, xanchor="left", yanchor="top",
                          showactive=False, pad=dict(r=10, t=0),
                          buttons=[dict(label="▶ play", method="animate", args=[None, play]),
                                   dict(label="❚❚ pause", method="animate", args=[[None], pause])])],
        sliders=[dict(active=0, x=0.17, len=0.83, y=slider_y, yanchor="top", pad=dict(t=0),
                      currentvalue=dict(prefix=prefix, visible=True),
                      steps=[dict(label=name, method="animate", args=[[name], jump]) for name in frame_names])])
