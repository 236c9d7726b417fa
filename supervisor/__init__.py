"""A small OTP-style supervisor for trio: child specs, one_for_one restarts, restart intensity."""

from chatd.supervisor.core import (
    ChildInfo,
    ChildSpec,
    Restart,
    RestartIntensityExceeded,
    Supervisor,
    SupervisorClosed,
    SupervisorEvent,
    current_child,
    traceback_summary,
)

__all__ = [
    "ChildInfo", "ChildSpec", "Restart", "RestartIntensityExceeded", "Supervisor", "SupervisorClosed",
    "SupervisorEvent", "current_child", "traceback_summary",
]
