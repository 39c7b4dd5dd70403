"""Send one example signal to the signal server and print its answer (see docs/signals.md).

    python mining/sample_signal_request.py --book 0 --order-type LONG --leverage 1.5

The key is ``--api-key`` or, by default, the ``api_key`` of ``mining/miner_secrets.json``
(``--secrets``). Exit status 0 when the server accepted the signal; otherwise one line on stderr
and exit status 1. Only the standard library is used, so the file can be copied anywhere.
"""

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8088/api/receive-signal"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sample_signal_request", description="Send one signal to the signal server."
    )
    p.add_argument("--url", default=DEFAULT_URL, help=f"the server's endpoint ({DEFAULT_URL})")
    p.add_argument("--api-key", dest="api_key", help="the key (default: read from --secrets)")
    p.add_argument(
        "--secrets", default="mining/miner_secrets.json", help="secrets file (mining/miner_secrets.json)"
    )
    p.add_argument("--book", type=int, default=0, help="book_id (0)")
    p.add_argument("--order-type", dest="order_type", default="LONG", help="LONG, SHORT or FLAT (LONG)")
    p.add_argument("--leverage", type=float, help="leverage (1.0 for LONG and SHORT; omitted for FLAT)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the answer (10)")
    return p


def read_key(path: str) -> str:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SystemExit(f"sample_signal_request: error: {path} does not exist (or give --api-key)") from None
    except (OSError, ValueError) as e:
        raise SystemExit(f"sample_signal_request: error: cannot read {path}: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("api_key"), str):
        raise SystemExit(f'sample_signal_request: error: {path} must hold {{"api_key": "..."}}')
    return doc["api_key"]


def main() -> int:
    args = parser().parse_args()
    key = args.api_key if args.api_key is not None else read_key(args.secrets)
    signal = {"api_key": key, "book_id": args.book, "order_type": args.order_type}
    if args.leverage is not None:
        signal["leverage"] = args.leverage
    elif args.order_type != "FLAT":
        signal["leverage"] = 1.0
    request = urllib.request.Request(
        args.url,
        data=json.dumps(signal).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:
            print(response.status, response.read().decode("utf-8", "replace"))
            return 0
    except urllib.error.HTTPError as e:
        body = e.read().decode("utf-8", "replace")
        print(f"sample_signal_request: error: HTTP {e.code}: {body}", file=sys.stderr)
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        print(f"sample_signal_request: error: cannot reach {args.url}: {reason}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
