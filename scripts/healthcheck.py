"""Container health check: exit 0 when this process's /readyz answers 200, else 1 (stdlib only)."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 4.0


def main() -> int:
    """Probe http://127.0.0.1:$ASR_PORT/readyz once."""
    url = f"http://127.0.0.1:{os.environ.get('ASR_PORT', '5006')}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
