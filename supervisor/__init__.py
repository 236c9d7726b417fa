"""A small OTP-style supervisor for trio: child specs, one_for_one restarts, restart intensity, ordered stops."""

from chatd.supervisor.core import (
    ChildInfo,
    ChildSpec,
    ChildState,
    Restart,
    RestartIntensityExceeded,
    StopOrder,
    Supervisor,
    SupervisorClosed,
    SupervisorEvent,
    current_child,
    open_supervisor,
    traceback_summary,
)

__all__ = [
    "ChildInfo", "ChildSpec", "ChildState", "Restart", "RestartIntensityExceeded", "StopOrder", "Supervisor",
    "SupervisorClosed", "SupervisorEvent", "current_child", "open_supervisor", "traceback_summary",
]
