"""Where events come from: a launched command (``launch``), an attached process
(``attach``) or a recording (``replay``), each a ``feed.Feed`` that a monitor steps;
``environment`` is what carries the agent into a target, ``facts`` what psutil says
about live processes."""
