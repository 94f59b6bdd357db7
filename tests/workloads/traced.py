"""A target that traces and profiles itself while it raises events whose arguments the
agent must hand to its Python summariser: the agent's code must never show up."""

import sys

seen = set()


def tracer(frame, event, arg):
    seen.add(frame.f_code.co_filename)
    return tracer


def profiler(frame, event, arg):
    seen.add(frame.f_code.co_filename)


class Plain(object):
    pass


sys.settrace(tracer)
sys.setprofile(profiler)
for i in range(3):
    sys.audit("traced.event", {"key": [i]}, Plain(), "x" * 2000, sys.audit)
sys.settrace(None)
sys.setprofile(None)
# The agent's files are those under the directory given (the checkout's own name may
# be anything, "auditmon" included).
agent = sys.argv[1]
print(sorted(name for name in seen if name.startswith(agent) or "_auditmon" in name))
