"""Several paced targets at once: paced_tree.py PROCESSES SECONDS TOTAL_RATE."""

import subprocess
import sys
from pathlib import Path

count, seconds, rate = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
target = str(Path(__file__).with_name("paced_target.py"))
children = [
    subprocess.Popen([sys.executable, target, seconds, str(rate / count)]) for _ in range(count)
]
sys.exit(max(child.wait() for child in children))
