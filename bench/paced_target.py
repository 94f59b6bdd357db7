"""A target that raises custom audit events at a steady rate: paced_target.py SECONDS RATE."""

import sys
import time

seconds, rate = float(sys.argv[1]), float(sys.argv[2])
start = time.time()
end = start + seconds
raised = 0
while time.time() < end:
    for i in range(1000):
        sys.audit("bench.paced", i, "abc")
    raised += 1000
    ahead = raised / rate - (time.time() - start)
    if ahead > 0:
        time.sleep(ahead)
print(f"raised {raised} events at {raised / (time.time() - start):.0f}/s", file=sys.stderr)
