"""Typed outcomes of a governed call that did not execute."""

from __future__ import annotations

from typing import Any, Optional


class ArxError(Exception):
    """Any failure talking to ARX (transport, refused request, token exchange)."""

    def __init__(self, message: str, status: Optional[int] = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class ActionDenied(ArxError):
    """The action will not run: the policy forbade it, an approver denied it, or the kill switch cancelled it.

    ``by`` is ``"policy"``, ``"approver"`` or ``"kill-switch"``; ``decision`` is ARX's decision.
    """

    def __init__(self, message: str, action_id: str, by: str, decision: Optional[dict] = None, body: Any = None) -> None:
        super().__init__(message, 403, body)
        self.action_id = action_id
        self.by = by
        self.decision = decision


class ApprovalExpired(ArxError):
    """Nobody decided before the approval deadline; the action did not run."""

    def __init__(self, action_id: str, approval_id: Optional[str], decision: Optional[dict] = None, body: Any = None) -> None:
        super().__init__(f"approval {approval_id or ''} expired before a decision; action {action_id} did not run", 409, body)
        self.action_id = action_id
        self.approval_id = approval_id
        self.decision = decision


class ActionFailed(ArxError):
    """The connector call failed; ``retryable`` says whether submitting again may succeed."""

    def __init__(self, action_id: str, code: str, retryable: bool, message: str, decision: Optional[dict] = None, body: Any = None) -> None:
        super().__init__(message, 502, body)
        self.action_id = action_id
        self.code = code
        self.retryable = retryable
        self.decision = decision
