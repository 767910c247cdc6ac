"""Runs moto's server for the local runtime and the tests (started by local/moto.ts).

argv: [parent pid, moto_server args...]. Sets SIGKILL-on-parent-death where the OS allows it, then
runs moto's server in this process when this interpreter has moto (else execs moto_server).

In process, two DynamoDB behaviours are brought closer to the real service:
- Writes are serialised with one lock, as DynamoDB makes them atomic. moto runs requests on
  threads, and without the lock a cancelled transaction's rollback (below) could interleave with
  other requests' writes (a losing approver's cancelled transaction reverted the winner's
  executed action).
- A transaction is rolled back from an undo log of the items it touches. moto deep-copies every
  whole table a transaction touches before it starts, so each TransactWriteItems cost grew with
  the table (340 ms a call on the audit table after a few minutes of `npm run dev`).
EventBridge's JSONPath expressions are parsed once each instead of on every delivery, SQS does
not scan the whole queue for each message it hands out, and successful requests are not logged
line by line.
"""
import ctypes
import os
import signal
import sys

try:
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))
except Exception:
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)

try:
    import copy
    import functools
    import threading

    import moto.dynamodb.models as ddb
    import moto.server
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table
except Exception:
    os.execvp("moto_server", ["moto_server"] + sys.argv[2:])


class TablesUncopied:
    """The `copy` module as moto's DynamoDB backend sees it, except that a Table is not copied."""

    def deepcopy(self, x, memo=None):
        return x if isinstance(x, Table) else copy.deepcopy(x, memo)

    def __getattr__(self, name):
        return getattr(copy, name)


ddb.copy = TablesUncopied()
original_transact = DynamoDBBackend.transact_write_items


def transact_write_items(self, transact_items):
    undo = []
    for entry in transact_items:
        try:
            op = next(iter(entry.values()))
            table = self.tables.get(op.get("TableName"))
            raw = op.get("Item") or op.get("Key")
            if table is None or raw is None:
                continue
            hk = DynamoType(raw[table.hash_key_attr])
            rk = DynamoType(raw[table.range_key_attr]) if table.range_key_attr else None
            now = table.items.get(hk, {}).get(rk) if rk is not None else table.items.get(hk)
            undo.append((table, hk, rk, copy.deepcopy(now)))
        except Exception:
            pass  # a malformed entry: moto answers it with its own validation error
    try:
        return original_transact(self, transact_items)
    except BaseException:
        for table, hk, rk, before in reversed(undo):
            if rk is None:
                if before is None:
                    table.items.pop(hk, None)
                else:
                    table.items[hk] = before
            elif before is None:
                table.items.get(hk, {}).pop(rk, None)
                if hk in table.items and not table.items[hk]:
                    del table.items[hk]
            else:
                table.items[hk][rk] = before
        raise


DynamoDBBackend.transact_write_items = transact_write_items

try:
    # EventBridge rebuilds a JSONPath parser (its LALR tables) for every path of every target of
    # every event it delivers: 62 % of the emulator's CPU under the actions bench. Parse each
    # path once.
    import jsonpath_ng.ext as jsonpath_ext

    jsonpath_ext.parse = functools.lru_cache(maxsize=1024)(jsonpath_ext.parse)
except Exception:
    pass

try:
    # SQS checks each message it hands out against the queue's retention period by computing every
    # queue attribute, ApproximateNumberOfMessages included: a pass over the whole queue per
    # message, so a backlog of N messages cost N² (19 % of the emulator's CPU while consumers caught
    # up with a 1,000-agent scan). Read the one attribute instead; the rule is the same.
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    def retained(self, queue_name, message):
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > unix_time()

    SQSBackend.is_message_valid_based_on_retention_period = retained
except Exception:
    pass

try:
    # One log line per request written to a pipe nobody reads unless the emulator fails to
    # start (13 % of the emulator's CPU under load): errors are still logged.
    from werkzeug.serving import WSGIRequestHandler

    WSGIRequestHandler.log_request = lambda self, code="-", size="-": None
except Exception:
    pass

lock = threading.RLock()


def serialised(f):
    @functools.wraps(f)
    def g(*a, **k):
        with lock:
            return f(*a, **k)

    return g


for name in (
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "batch_write_item",
    "execute_statement",
    "batch_execute_statement",
):
    if hasattr(DynamoDBBackend, name):
        setattr(DynamoDBBackend, name, serialised(getattr(DynamoDBBackend, name)))

sys.argv = ["moto_server"] + sys.argv[2:]
moto.server.main(sys.argv[1:])
