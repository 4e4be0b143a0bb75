"""Make mongoeco's handshake describe a one-node replica set.

Drivers decide what they may do from the ``hello`` reply: only a replica-set
member (``setName``, ``hosts``, ``primary``, ``me``) gets retryable writes,
transactions and ``replicaSet=`` URIs. mongoeco answers as a standalone, so the
reply is completed here.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from bson import ObjectId, Timestamp


@dataclass(slots=True)
class ReplicaSetIdentity:
    set_name: str
    host: str
    port: int
    process_id: ObjectId = field(default_factory=ObjectId)
    election_id: ObjectId = field(default_factory=lambda: ObjectId("7fffffff0000000000000001"))

    @property
    def me(self) -> str:
        return f"{self.host}:{self.port}"


def complete_hello(reply: dict[str, Any], identity: ReplicaSetIdentity) -> dict[str, Any]:
    """Add the replica-set members of a ``hello`` reply (the reply is changed in place)."""
    if not reply.get("ok"):
        return reply
    now = datetime.datetime.now(datetime.UTC)
    optime = {"ts": Timestamp(int(now.timestamp()), 1), "t": 1}
    reply.update(
        {
            "setName": identity.set_name,
            "setVersion": 1,
            "hosts": [identity.me],
            "primary": identity.me,
            "me": identity.me,
            "secondary": False,
            "electionId": identity.election_id,
            "topologyVersion": {"processId": identity.process_id, "counter": 0},
            "lastWrite": {
                "opTime": optime,
                "lastWriteDate": now.replace(microsecond=0),
                "majorityOpTime": optime,
                "majorityWriteDate": now.replace(microsecond=0),
            },
        }
    )
    return reply
