"""ARX client SDK for Python agents.

``ARXClient`` (async) and ``SyncARXClient`` run governed actions; ``govern_tool`` decorates a tool
function; ``arx.langchain.governed`` wraps a LangChain tool (needs ``langchain-core``).
"""

from ._client import ActionResult, ARXClient, Pending, SyncARXClient
from ._trace import continued_context
from .errors import ActionDenied, ActionFailed, ApprovalExpired, ArxError
from .tools import govern_tool

__all__ = [
    "ARXClient",
    "SyncARXClient",
    "ActionResult",
    "Pending",
    "ActionDenied",
    "ApprovalExpired",
    "ActionFailed",
    "ArxError",
    "govern_tool",
    "continued_context",
]
__version__ = "0.1.0"
