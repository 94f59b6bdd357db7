"""A long-running target for attach tests: ticks until a stop file appears."""

import os
import sys
import time

stop = sys.argv[1]
i = 0
print("ticker ready", flush=True)
while not os.path.exists(stop):
    sys.audit("ticker.tick", i)
    i += 1
    time.sleep(0.01)
print("ticker done", i > 0, flush=True)
