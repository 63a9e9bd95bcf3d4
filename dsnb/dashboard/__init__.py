"""The live dashboard of notebooks 03 and 04: sliders that steer a DS-GRPO run while it trains.

    import dsnb.dashboard
    dash = dsnb.dashboard.live(cfg, compare=True)   # GRPO beside DS-GRPO; shows itself

- ``widget``: ``live`` and ``Dashboard`` (sliders, buttons, plots, the sample viewer)
- ``run``: ``LiveRun``, the trainers in a background thread (no widgets: usable headless)
- ``minieval``: the chunked pass@k mini-evaluation
- ``stopping``: how Stop interrupts a step or an evaluation within a fraction of a second
- ``history``: what the dashboard keeps in a run directory, and how a re-opened run redraws itself
- ``plots``: the live figures and the pane that redraws them in place (axes included)
- ``views``: HTML pieces (sample viewer, status line with speed and time left, error box)
"""

from dsnb.dashboard.run import LiveConfig, LiveRun, active_run
from dsnb.dashboard.widget import Dashboard, live

__all__ = ["Dashboard", "LiveConfig", "LiveRun", "active_run", "live"]
