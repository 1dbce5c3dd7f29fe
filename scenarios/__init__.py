"""Policy as data: the lever dictionary (`levers.yaml`) and its compilation into per-year place arrays."""
