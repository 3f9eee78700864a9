"""Publish one small version from its own process (used by the concurrency test)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from test_publish import publish_once

if __name__ == "__main__":
    print(publish_once(Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])))
