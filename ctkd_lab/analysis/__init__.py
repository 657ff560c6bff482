"""Analysis: evaluation of saved runs, attention maps, attributions, run comparison."""
