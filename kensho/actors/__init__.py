"""The actor runtime: pykka actors under OTP-style supervisors, asked from asyncio via a bridge.

Handlers talk to actors only through `ActorHandle`s obtained from the supervisor
(`root.handle("cache")`); see docs/actors.md.
"""

from kensho.actors.base import ExitReason, KenshoActor
from kensho.actors.bridge import bridge_ask, bridge_tell
from kensho.actors.handle import ActorHandle
from kensho.actors.stats import ActorState, ActorStats, FailureInfo
from kensho.actors.supervisor import ChildSpec, RestartPolicy, Strategy, Supervisor, backoff_delay
from kensho.actors.tree import build_root

__all__ = [
    "ActorHandle",
    "ActorState",
    "ActorStats",
    "ChildSpec",
    "ExitReason",
    "FailureInfo",
    "KenshoActor",
    "RestartPolicy",
    "Strategy",
    "Supervisor",
    "backoff_delay",
    "bridge_ask",
    "bridge_tell",
    "build_root",
]
