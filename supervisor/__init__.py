"""A small OTP-style supervisor for trio: child specs, one_for_one restarts, restart intensity."""

from supervisor.core import (
    ChildInfo,
    ChildSpec,
    Restart,
    RestartIntensityExceeded,
    Supervisor,
    SupervisorClosed,
    SupervisorEvent,
)

__all__ = [
    "ChildInfo", "ChildSpec", "Restart", "RestartIntensityExceeded", "Supervisor", "SupervisorClosed",
    "SupervisorEvent",
]
