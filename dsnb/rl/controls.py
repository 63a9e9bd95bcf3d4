"""Live controls: change gamma_p, gamma_n, the entropy coefficient or the learning rate while
a run trains, pause it, or stop it. The trainer reads them at each step boundary.

Any thread may call :meth:`Controls.set` (a dashboard slider, a test, a second notebook cell);
the training loop calls :meth:`Controls.take_changes` once per step, applies what changed and
logs every change with the step it took effect at. Used by ``dsnb.rl.trainer`` and the dashboard.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

LIVE_FIELDS = ("gamma_p", "gamma_n", "entropy_coef", "lr")


@dataclass
class Change:
    """One control change, as logged: which field, old and new value, the step it applies to."""

    field: str
    old: float
    new: float
    step: int


class Controls:
    """Thread-safe knobs the training loop polls. Values start at the run's config."""

    def __init__(self, **values: float):
        unknown = set(values) - set(LIVE_FIELDS)
        if unknown:
            raise ValueError(
                f"unknown live controls {sorted(unknown)}; these can change during training: {LIVE_FIELDS}"
            )
        self._lock = threading.Lock()
        self._values = dict(values)
        self._pending: dict[str, float] = {}
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()

    def set(self, **values: float) -> None:
        """Request new values; they take effect at the next step boundary."""
        for name, value in values.items():
            if name not in LIVE_FIELDS:
                raise ValueError(f"{name!r} is not a live control; choose from {LIVE_FIELDS}")
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number (got {value})")
            if name in ("gamma_p", "gamma_n", "lr") and value < 0:
                raise ValueError(
                    f"{name} must be >= 0 (got {value}); DS needs gamma >= 0 and a "
                    "negative learning rate would climb the loss"
                )
        with self._lock:
            self._pending.update({k: float(v) for k, v in values.items()})

    def get(self, name: str) -> float:
        with self._lock:
            return self._pending.get(name, self._values[name])

    def take_changes(self, step: int) -> list[Change]:
        """Apply pending requests; return what actually changed (called by the loop only)."""
        with self._lock:
            changes = [
                Change(k, self._values.get(k, float("nan")), v, step)
                for k, v in self._pending.items()
                if self._values.get(k) != v
            ]
            self._values.update(self._pending)
            self._pending.clear()
        return changes

    @property
    def values(self) -> dict[str, float]:
        with self._lock:
            return dict(self._values)

    # pause / resume / stop -------------------------------------------------------------
    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused loop must wake up to see the stop

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def wait_if_paused(self, timeout: float | None = None) -> bool:
        """Block while paused. Returns False if still paused after `timeout`."""
        return self._running.wait(timeout)
