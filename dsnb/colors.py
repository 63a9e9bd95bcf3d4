"""One colour per method, everywhere (theory plots, training plots, reports, dashboard)."""

METHOD_COLORS = {
    "base": "#444444",
    "vanilla": "#1f77b4",
    "grpo": "#1f77b4",
    "ds": "#d62728",
    "entropy_bonus": "#2ca02c",
    "entropy_penalty": "#9467bd",
}
