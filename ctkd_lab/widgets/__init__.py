"""Widgets: ipywidgets panels that call the viz and analysis functions (import each module directly)."""
