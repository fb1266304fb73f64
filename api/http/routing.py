"""The route class of every router: a plain `def` endpoint costs one thread hop.

FastAPI runs a `def` endpoint in a worker thread, then hands its answer to another
worker thread to be validated against the response model: two hand-overs between the
event loop and the thread pool per request, each a wake-up of both. `OneHopRoute`
runs the endpoint in the pool itself, from a coroutine that FastAPI awaits, so the
validation (of a model the endpoint built, an isinstance check) runs on the event loop
on the way out. Parameters, dependencies, documentation and errors are the endpoint's
own: the coroutine wraps it (`functools.wraps`), and FastAPI reads the endpoint behind
it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool


def one_hop(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """`endpoint` as a coroutine function running it in the thread pool. Only a plain
    function or method is wrapped: anything else (a coroutine, generator or async
    generator function, a partial, a callable object) is answered as it is, for FastAPI
    to run its own way."""
    plain = inspect.isfunction(endpoint) or inspect.ismethod(endpoint)
    if (
        not plain
        or inspect.iscoroutinefunction(endpoint)
        or inspect.isgeneratorfunction(endpoint)
        or inspect.isasyncgenfunction(endpoint)
    ):
        return endpoint

    @functools.wraps(endpoint)
    async def in_pool(**kwargs: Any) -> Any:
        return await run_in_threadpool(endpoint, **kwargs)

    return in_pool


class OneHopRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, one_hop(endpoint), **kwargs)
