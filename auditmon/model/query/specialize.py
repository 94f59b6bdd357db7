"""An expression made for one event name: what the name alone decides is decided once.

A rule engine knows each event's name before it looks at anything else, so for each
name it runs a version of each rule with the event-name globs, the conditions on the
event's name or category, and the conditions on fields that name's events never carry
(``file.written`` for ``compile``) replaced by their answers, and ``and``/``or``/``not``
simplified around them: ``program_from_writable_dir or code_compiled_from_string`` is
one branch for ``compile`` events.  True is ``AllOf(())``, false ``AnyOf(())``.
"""

from __future__ import annotations

import fnmatch

from auditmon.catalog import Catalog
from auditmon.model.query.compile import CompileError, category_named
from auditmon.model.query.fields import CATEGORY_NAMES, resolve
from auditmon.model.query.syntax import AllOf, AnyOf, Condition, Glob, Named, Node, Not

TRUE: Node = AllOf(())
FALSE: Node = AnyOf(())
_NAME_FIELDS = ("event", "name", "evt.name")


def specialize(tree: Node, name: str, catalog: Catalog) -> Node:
    """``tree`` as it stands for events called ``name``."""
    if isinstance(tree, Glob):
        return TRUE if any(fnmatch.fnmatchcase(name, p) for p in tree.patterns) else FALSE
    if isinstance(tree, Condition):
        return _condition(tree, name, catalog)
    if isinstance(tree, Not):
        inner = specialize(tree.term, name, catalog)
        return FALSE if inner is TRUE else TRUE if inner is FALSE else Not(inner)
    if isinstance(tree, Named):
        inner = specialize(tree.term, name, catalog)
        return inner if inner is TRUE or inner is FALSE else Named(tree.name, inner)
    terms = [specialize(t, name, catalog) for t in tree.terms]
    if isinstance(tree, AllOf):
        if any(t is FALSE for t in terms):
            return FALSE
        kept = [t for t in terms if t is not TRUE]
        return TRUE if not kept else kept[0] if len(kept) == 1 else AllOf(tuple(kept))
    if any(t is TRUE for t in terms):
        return TRUE
    kept = [t for t in terms if t is not FALSE]
    return FALSE if not kept else kept[0] if len(kept) == 1 else AnyOf(tuple(kept))


def _condition(tree: Condition, name: str, catalog: Catalog) -> Node:
    field = tree.field
    if field in _NAME_FIELDS and tree.op in ("=", "==", "!=", "in", "glob"):
        values = tree.value if isinstance(tree.value, tuple) else (tree.value,)
        if tree.op == "glob":
            found = any(fnmatch.fnmatchcase(name, str(v)) for v in values)
        else:
            found = name in values
        return TRUE if found != (tree.op == "!=") else FALSE
    if field in CATEGORY_NAMES and tree.op in ("=", "==", "in"):
        values = tree.value if isinstance(tree.value, tuple) else (tree.value,)
        try:
            wanted = {category_named(str(v), catalog) for v in values}
        except CompileError:
            return tree
        return TRUE if catalog.category_for(name) in wanted else FALSE
    try:
        carried = resolve(field, catalog).events
    except KeyError:
        return tree
    if carried is not None and name not in carried:
        return FALSE  # the field is missing: every comparison is false, exists too
    return tree


def leading_guard(tree: Node) -> Named | None:
    """A macro that must hold for ``tree`` to hold, where the tree says so first: the
    first term of an ``and``, or the same guard in every branch of an ``or``.  An engine
    asks it before the rule (it is judged once per event, however many rules lead with
    it), so the secret rules' shared first look settles all of them at once."""
    if isinstance(tree, Named):
        return leading_guard(tree.term)
    if isinstance(tree, AllOf) and tree.terms:
        first = tree.terms[0]
        deeper = leading_guard(first)  # the innermost: cheapest, and shared the most
        return deeper if deeper is not None or not isinstance(first, Named) else first
    if isinstance(tree, AnyOf) and tree.terms:
        guards = [leading_guard(t) for t in tree.terms]
        if guards[0] is not None and all(g == guards[0] for g in guards):
            return guards[0]
    return None
