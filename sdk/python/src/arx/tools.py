"""``govern_tool``: every call of a tool function goes through ARX first."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Optional, Union

from ._client import ActionResult, ARXClient, SyncARXClient

Client = Union[ARXClient, SyncARXClient]


def govern_tool(
    client: Client,
    *,
    connector: str,
    operation: str,
    params: Optional[Callable[..., dict]] = None,
    reason: Optional[Callable[..., Optional[str]]] = None,
    correlation_id: Optional[Callable[..., Optional[str]]] = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the connector operation runs only when ARX allows it; the function then shapes
    the result for the agent. The decorated function receives the tool's keyword arguments plus
    ``action`` (the ``ActionResult``). Denials and expiries raise the SDK's typed errors.

    Example::

        @govern_tool(arx, connector="okta", operation="users:deactivate")
        async def deactivate_user(user_id: str, action: ActionResult) -> str:
            return f"deactivated {user_id} (approved by {action.approval_metadata['approver']})"

        await deactivate_user(user_id="00u3")

    By default the tool's keyword arguments are the connector params; ``params`` maps them otherwise.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        def request(kwargs: dict) -> dict:
            req: dict = {"connector": connector, "operation": operation, "params": params(**kwargs) if params else dict(kwargs)}
            if reason:
                req["reason"] = reason(**kwargs)
            if correlation_id:
                req["correlation_id"] = correlation_id(**kwargs)
            return req

        if isinstance(client, ARXClient):

            @functools.wraps(fn)
            async def governed_async(**kwargs: Any) -> Any:
                action: ActionResult = await client.execute(**request(kwargs))
                out = fn(**kwargs, action=action)
                return await out if inspect.isawaitable(out) else out

            return governed_async

        @functools.wraps(fn)
        def governed_sync(**kwargs: Any) -> Any:
            action = client.execute(**request(kwargs))
            return fn(**kwargs, action=action)

        return governed_sync

    return decorate
