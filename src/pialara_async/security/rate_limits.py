"""Budgets of requests per client address, account and socket.

Moving windows kept in this process's memory by the ``limits`` library. The
address is the TCP peer's: behind a proxy every client shares the proxy's, so
put the limits there or raise them here.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from aiohttp import web
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from pialara_async.settings import LimitsSettings


class TooManyRequests(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests: retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    rate: RateLimitItem


class RateLimits:
    def __init__(self, settings: LimitsSettings) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.login_per_address = Rule("login-address", parse(settings.login_per_address))
        self.login_per_account = Rule("login-account", parse(settings.login_per_account))
        self.register_per_address = Rule("register-address",
                                         parse(settings.register_per_address))
        self.websockets_per_address = Rule("websocket-address",
                                           parse(settings.websockets_per_address))
        self.messages_per_websocket = Rule("websocket-messages",
                                           parse(settings.messages_per_websocket))

    async def spend(self, rule: Rule, who: str) -> None:
        """Count one request of ``who`` against ``rule``; ``TooManyRequests`` past it."""
        if await self._limiter.hit(rule.rate, rule.name, who):
            return
        stats = await self._limiter.get_window_stats(rule.rate, rule.name, who)
        raise TooManyRequests(max(1, math.ceil(stats.reset_time - time.time())))

# Request budgets per client address, account and socket.
RATE_LIMITS = web.AppKey("rate_limits", RateLimits)
