"""Math-Verify in a child process: one JSON request a line on stdin, one JSON reply a line on stdout.

Run as a script (`python _mv_worker.py`) so that it imports nothing of aimo. Math-Verify's own
signal-based timeouts are off; the parent kills this process when a comparison runs too long.
Math-Verify compares numbers after rounding them to a few decimals; two numbers it calls equal are
checked again here to 50 significant digits, so `e^{-100}` and `e^{-101}` (both 0.0) stay apart.
"""

from __future__ import annotations

import json
import logging
import sys


def _apart(a: object, b: object) -> bool:
    """Whether two numbers differ beyond the 40th significant digit of the larger."""
    import sympy

    if not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr) and a.is_number and b.is_number):
        return False
    scale = max(abs(sympy.N(a, 20)), abs(sympy.N(b, 20)))
    if scale == 0:
        return a != b
    return bool(abs(sympy.N(a - b, 50)) > scale * sympy.Float("1e-40", 50))


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
            equal = bool(gold and pred and verify(gold, pred, timeout_seconds=None))
            reply = {"equal": equal and not _apart(gold[0], pred[0])}
        except Exception as exc:  # a library error is an answer ("not shown equal"), not a crash
            reply = {"equal": False, "error": f"{type(exc).__name__}: {exc}"[:200]}
        protocol.write(json.dumps(reply) + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
