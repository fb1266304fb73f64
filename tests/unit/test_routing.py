"""`one_hop`: a plain endpoint runs in the thread pool from a coroutine; anything else is
left for FastAPI to run its own way."""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import AsyncIterator, Iterator

from api.http.routing import one_hop


def plain(item_id: int, flag: bool = False) -> tuple[int, bool, str]:
    """A plain endpoint."""
    return item_id, flag, threading.current_thread().name


async def coroutine(item_id: int) -> int:
    return item_id


def generator() -> Iterator[int]:
    yield 1


async def async_generator() -> AsyncIterator[int]:
    yield 1


class CallableObject:
    async def __call__(self, item_id: int) -> int:
        return item_id


def test_a_plain_function_runs_in_a_worker_thread_behind_its_own_signature() -> None:
    wrapped = one_hop(plain)
    assert inspect.iscoroutinefunction(wrapped)
    assert inspect.signature(wrapped) == inspect.signature(plain)
    assert wrapped.__doc__ == plain.__doc__
    item_id, flag, thread = asyncio.run(wrapped(item_id=7, flag=True))
    assert (item_id, flag) == (7, True)
    assert thread != threading.current_thread().name


def test_what_is_not_a_plain_function_is_left_as_it_is() -> None:
    partial = functools.partial(plain, flag=True)
    instance = CallableObject()
    for endpoint in (coroutine, generator, async_generator, partial, instance):
        assert one_hop(endpoint) is endpoint
