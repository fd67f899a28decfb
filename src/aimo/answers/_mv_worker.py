"""Math-Verify in a child process: one JSON request a line on stdin, one JSON reply a line on stdout.

Run as a script (`python _mv_worker.py`) so that it imports nothing of aimo. Math-Verify's own
signal-based timeouts are off; the parent kills this process when a comparison runs too long.
"""

from __future__ import annotations

import json
import logging
import sys


def main() -> None:
    """Serve requests until stdin closes."""
    protocol = sys.stdout
    sys.stdout = sys.stderr  # anything a library prints must not corrupt the protocol
    logging.disable(logging.CRITICAL)
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    config = [LatexExtractionConfig(), ExprExtractionConfig()]
    protocol.write('{"ready": true}\n')
    protocol.flush()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            gold = parse(f"${request['gold']}$", config, parsing_timeout=None)
            pred = parse(f"${request['pred']}$", config, parsing_timeout=None)
            reply = {"equal": bool(gold and pred and verify(gold, pred, timeout_seconds=None))}
        except Exception as exc:  # a library error is an answer ("not shown equal"), not a crash
            reply = {"equal": False, "error": f"{type(exc).__name__}: {exc}"[:200]}
        protocol.write(json.dumps(reply) + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
