"""What one read transaction has read already, kept for the rest of it.

A dashboard page asks one snapshot the same question several times over (the range's session
counts for its extra cost, its fixed shares and its tiers; the range's sessions for their costs
by mode and for the plans at their limit). Within one transaction the answer cannot change
(SQLite's read transaction is one snapshot; a PostgreSQL page reads as of its first statement
for these), so it is read once and kept on the driver's connection with a weak reference to the
transaction it belongs to: the next transaction, on the next checkout of that connection, reads
afresh.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection

T = TypeVar("T")
_KEY = "costledger.transaction_memo"
_Memo = tuple["weakref.ref[Any]", dict[tuple[str, str], Any]]


def _memo(connection: Connection) -> dict[tuple[str, str], Any] | None:
    """This transaction's memo, or None when there is no transaction (yet) or the kept one is another's."""
    transaction = connection.get_transaction()
    kept: _Memo | None = connection.info.get(_KEY)
    if transaction is None or kept is None or kept[0]() is not transaction:
        return None
    return kept[1]


def recalled(connection: Connection, name: str, key: str) -> Any | None:
    """What `remembered` keeps under (name, key) in this transaction, or None."""
    memo = _memo(connection)
    return None if memo is None else memo.get((name, key))


def remembered(connection: Connection, name: str, key: str, read: Callable[[], T]) -> T:
    """`read()`'s answer, read once per transaction for (name, key). The caller must not change it."""
    memo = _memo(connection)
    if memo is not None and (name, key) in memo:
        return memo[(name, key)]  # type: ignore[no-any-return]
    found = read()
    transaction = connection.get_transaction()  # begun by that read if none was
    if transaction is not None:
        if memo is None:
            memo = {}
            connection.info[_KEY] = (weakref.ref(transaction), memo)
        memo[(name, key)] = found
    return found


__all__ = ["recalled", "remembered"]
