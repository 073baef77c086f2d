"""moto's server, with each DynamoDB write applied atomically.

DynamoDB applies every write to an item atomically: two concurrent UpdateItem calls with
`ADD attempts :one` both count. moto's server handles requests on threads and does not lock
items, so such writes can lose one another's changes there. The adapters rely on the real
guarantee (and the contract suite checks it on both adapter families), so the tests run moto
with its DynamoDB write handlers serialized by one lock. Reads, SQS (long polls included) and
every other service stay concurrent.
"""

import sys
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_WRITES = ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items")
_LOCK = threading.Lock()


def _serialized(handler):
    def write(self):
        with _LOCK:
            return handler(self)

    write.__name__ = handler.__name__
    return write


for _name in _WRITES:
    setattr(DynamoHandler, _name, _serialized(getattr(DynamoHandler, _name)))

if __name__ == "__main__":
    sys.exit(main())
