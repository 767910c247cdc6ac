"""LangChain tools governed by ARX (requires ``langchain-core``).

``governed(tool, client, connector=, operation=)`` returns a LangChain tool with the same name,
description and argument schema whose every invocation is decided by ARX first. The wrapped
tool's own code runs only after ARX executed (or approved and executed) the connector operation,
and receives ARX's result as ``arx_result`` when its signature accepts it. Denials are returned to
the model as the tool's error text (``ToolException``) so the agent can reason about them.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional, Union

from langchain_core.tools import BaseTool, StructuredTool, ToolException

from ._client import ARXClient, SyncARXClient
from .errors import ActionDenied, ActionFailed, ApprovalExpired

_OUTCOMES = (ActionDenied, ApprovalExpired, ActionFailed)


def _without_arx_result(schema: Any) -> Any:
    """The tool's argument schema minus ``arx_result``, which ARX supplies and the model must not see."""
    fields = getattr(schema, "model_fields", None)
    if not fields or "arx_result" not in fields:
        return schema
    from pydantic import create_model

    kept = {name: (f.annotation, f) for name, f in fields.items() if name != "arx_result"}
    return create_model(schema.__name__, **kept)


def governed(
    tool: BaseTool,
    client: Union[ARXClient, SyncARXClient],
    *,
    connector: str,
    operation: str,
    params: Optional[Callable[..., dict]] = None,
    reason: Optional[Callable[..., Optional[str]]] = None,
) -> StructuredTool:
    """Wraps ``tool`` so ARX governs it.

    The connector params default to the tool's input arguments. The governed tool returns the
    wrapped tool's output (called with ``arx_result=`` when it declares that argument), or ARX's
    result when the wrapped tool is only a description of the operation.
    """

    def wants_result(fn: Any) -> bool:
        try:
            return "arx_result" in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            return False

    def req(kwargs: dict) -> dict:
        r: dict = {"connector": connector, "operation": operation, "params": params(**kwargs) if params else dict(kwargs)}
        if reason:
            r["reason"] = reason(**kwargs)
        return r

    inner = getattr(tool, "func", None)
    inner_async = getattr(tool, "coroutine", None)

    def after(kwargs: dict, result: Any) -> Any:
        if inner is not None and wants_result(inner):
            return inner(**kwargs, arx_result=result)
        return result.result

    async def after_async(kwargs: dict, result: Any) -> Any:
        if inner_async is not None and wants_result(inner_async):
            return await inner_async(**kwargs, arx_result=result)
        return after(kwargs, result)

    def run_sync(**kwargs: Any) -> Any:
        if isinstance(client, ARXClient):
            raise ToolException("this governed tool has an async ARX client: invoke it with ainvoke()")
        try:
            result = client.execute(**req(kwargs))
        except _OUTCOMES as e:
            raise ToolException(f"ARX: {e}") from e
        return after(kwargs, result)

    async def run_async(**kwargs: Any) -> Any:
        try:
            if isinstance(client, ARXClient):
                result = await client.execute(**req(kwargs))
            else:
                result = client.execute(**req(kwargs))
        except _OUTCOMES as e:
            raise ToolException(f"ARX: {e}") from e
        return await after_async(kwargs, result)

    return StructuredTool.from_function(
        func=run_sync,
        coroutine=run_async,
        name=tool.name,
        description=tool.description,
        args_schema=_without_arx_result(tool.args_schema),
        handle_tool_error=True,
    )
