"""What one hostile reply costs the validator: ``Validator.accept`` of a single miner's reply, on a
market of 20 books (the default size), for the replies a miner could send to waste its time:

- the largest reply that is judged: books x 20 limit orders, every one valid (all are kept);
- the same number of instructions on one book (20 kept, the rest refused by the per-book cap);
- 200,000 cancels (about 5 MB; the old hard limit of a reply): refused by its size, unread;
- as many bytes of garbage as the largest reply may have: refused when it does not decode.

Prints the median wall time of each over ``--repeat`` calls, alternating the cases in each round.

    python benchmarks/hostile_replies.py [--books 20] [--repeat 25]
"""

from __future__ import annotations

import argparse
import statistics
import time

import msgspec

from taos.chain import LocalChain, Neuron
from taos.config import loads
from taos.protocol import PROTOCOL_VERSION, PlaceLimit, Side, encode_reply, max_reply_bytes
from taos.validator.transport import Answer, InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings

CONFIG = """
[simulation]
books = {books}
seed = 1
duration_s = 86400.0
grace_period_s = 0.0
[miners]
slots = 4
[[population]]
model = "initialization"
count = 20
base = 50.0
quote = 15000.0
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=25)
    args = ap.parse_args()
    books = args.books
    chain = LocalChain("v", [Neuron(0, "v", True, 1.0, None), Neuron(1, "m", False, 0.0, None)])
    v = Validator(loads(CONFIG.format(books=books)), chain, InProcessTransport({}), ValidatorSettings())
    v.sync_chain()
    v.step()
    n = books * 20
    cases = {
        f"{n} valid limit orders over {books} books (all kept)": encode_reply(
            [PlaceLimit(i % books, Side.BUY, 250.0 + i * 0.01, 0.01) for i in range(n)]
        ),
        f"{n} limit orders on one book (20 kept)": encode_reply(
            [PlaceLimit(0, Side.BUY, 250.0 + i * 0.01, 0.01) for i in range(n)]
        ),
        "200,000 cancels (refused by size)": msgspec.msgpack.encode(
            {
                "protocol_version": PROTOCOL_VERSION,
                "instructions": [{"kind": 3, "book": 0, "order_id": i + 1} for i in range(200_000)],
            }
        ),
        "garbage of the largest reply's size": bytes(range(256)) * (max_reply_bytes(books) // 256),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeat):
        for name, body in cases.items():
            v.miners[1].notices = []
            started = time.perf_counter()
            v.accept({1: Answer(body, 0.01)})
            times[name].append(time.perf_counter() - started)
    print(f"Validator.accept of one reply, {books} books, median of {args.repeat}:")
    for name, body in cases.items():
        print(f"  {name:55s} {len(body):>9,} bytes  {statistics.median(times[name]) * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
