"""Turn audit-hook arguments into small, self-contained values without running user code.

The hook must not keep the target's objects alive, must not call their ``__repr__`` or
any other method a class can override, and must stay cheap.  So: exact ``None``, bool,
int, float and str pass through (strings cut at ``strlen``); bytes, tuples, lists and
dicts are copied to a bounded depth, width and total size; everything else becomes a
``Described`` text built only from C-level attributes (a code object's file, line and
name; a function's qualname; a socket's family; otherwise the type's name).
"""

import sys
from _weakref import ref as _weak_ref

from .config import INT64_MIN, UINT64_MAX
from .constants import DEFAULT_STRLEN, SUMMARY_BUDGET, SUMMARY_DEPTH, SUMMARY_WIDTH
from .wire import BigInt, Cut, Described
from .wire import address as _address

# C-level getters: reading through them never reaches a metaclass or a property.
_type_qualname = type.__dict__["__qualname__"].__get__
_type_module = type.__dict__["__module__"].__get__
_type_flags = type.__dict__["__flags__"].__get__
_str_copy = str.__str__
_int_copy = int.__index__
_float_copy = float.__float__


# The types module's names, without importing it at the target's start-up.
def _function():
    return sys._getframe()


class _Class(object):
    def method(self):
        pass


_FunctionType = type(_function)
_CodeType = type(_function.__code__)
_MethodType = type(_Class().method)
_BuiltinType = type(len)
_ModuleType = type(sys)
_FrameType = type(_function())
del _Class


class Summarizer(object):
    """Summarises argument tuples with fixed limits (see the module docstring)."""

    def __init__(
        self,
        strlen=DEFAULT_STRLEN,
        depth=SUMMARY_DEPTH,
        width=SUMMARY_WIDTH,
        budget=SUMMARY_BUDGET,
    ):
        self.strlen = strlen
        self.depth = depth
        self.width = width
        self.budget = budget

    def args(self, args, seen=None):
        """The summary of one event's argument tuple (a sequence packed as an array).

        ``seen``: for a batch of events whose arguments all stay alive until the batch is
        summarised (the start's, which the preload library kept), a dict the batch
        shares: an argument that is a list or tuple of the very items of one summarised
        before in the batch gets that summary again (every import event carries
        sys.path, sys.meta_path and sys.path_hooks).  The same summary as without it:
        summarising the same objects twice, with nothing between, gives the same."""
        strlen = self.strlen
        for value in args:  # the usual case: plain values only, kept as they are
            t = type(value)
            if t is str:
                if len(value) > strlen:
                    break
            elif t is int:
                if not INT64_MIN <= value <= UINT64_MAX:
                    break
            elif value is not None and t is not bool and t is not float:
                break
        else:
            return args  # holds only immutable plain values, so keeping it keeps nothing more
        return self.copy_args(args, seen)

    def copy_args(self, args, seen=None):
        """``args`` for a tuple already found to hold more than plain values (the Python
        hook checks that itself); ``seen`` as for ``args``."""
        strlen = self.strlen
        out = []
        for value in args:
            t = type(value)
            if t is str:
                out.append(value if len(value) <= strlen else Cut(value[:strlen], len(value)))
            elif value is None or t is bool or t is float:
                out.append(value)
            elif t is int and INT64_MIN <= value <= UINT64_MAX:
                out.append(value)
            else:
                fixed = _FIXED.get(t)  # value()'s own first look, spared its call
                if fixed:
                    out.append(fixed)
                elif seen is not None and (t is list or t is tuple) and len(value) <= self.width:
                    # Keyed by the items' addresses, all alive while the batch is (a
                    # list is bounded by the width, past which its items are not read)
                    key = (t,) + tuple(map(_address, value))
                    summary = seen.get(key)
                    if summary is None:
                        summary = seen[key] = self.value(value, 0, [self.budget])
                    out.append(summary)
                else:
                    out.append(self.value(value, 0, [self.budget]))
        return out

    def value(self, value, level, budget):
        """Summarise any value; ``budget`` is a one-item list of nodes still allowed."""
        budget[0] -= 1
        t = type(value)
        if value is None or t is bool or t is float:
            return value
        if t is int:
            if INT64_MIN <= value <= UINT64_MAX:
                return value
            return BigInt(value)
        if t is str:
            if len(value) <= self.strlen:
                return value
            return Cut(value[: self.strlen], len(value))
        if t is bytes or t is bytearray:
            data = value if t is bytes else bytes(value[: self.strlen])
            if len(value) <= self.strlen:
                return data
            return Cut(data[: self.strlen], len(value))
        if t is tuple or t is list:
            return self._sequence(value, t, level, budget)
        if t is dict:
            return self._mapping(value, level, budget)
        fixed = _FIXED.get(t)
        if fixed is None and not _type_flags(t) & _HEAPTYPE:
            fixed = _learn_fixed(t)
        if fixed:
            return fixed
        if fixed is None or t in _BY_IDENTITY:
            summary = _recalled(value, t)
            if summary is not None:
                return summary
        if issubclass(t, str):
            return self.value(_str_copy(value), level, budget)
        if issubclass(t, int) and t is not bool:
            return self.value(_int_copy(value), level, budget)
        if issubclass(t, float):
            return _float_copy(value)
        try:
            path = _path_text(value, t)
        except Exception:
            path = None
        if path is not None:
            return self.value(path, level, budget)
        return Described(describe(value, t))

    def _sequence(self, value, t, level, budget):
        n = len(value)
        if level >= self.depth or budget[0] <= 0:
            return Described("%s of %d items" % (t.__name__, n))
        width, strlen = self.width, self.strlen
        items = []
        for item in value[:width]:
            if budget[0] <= 0:
                break
            if type(item) is str and len(item) <= strlen:  # value()'s, spared its call:
                budget[0] -= 1  # sys.path's entries, at every import
                items.append(item)
            else:
                items.append(self.value(item, level + 1, budget))
        if len(items) < n:
            return Cut(items, n)
        return items

    def _mapping(self, value, level, budget):
        n = len(value)
        if level >= self.depth or budget[0] <= 0:
            return Described("dict of %d items" % n)
        out = {}
        for key, item in list(dict.items(value))[: self.width]:
            if budget[0] <= 0:
                break
            skey = self.value(key, level + 1, budget)
            try:
                hash(skey)
            except TypeError:
                skey = Described("unhashable key")
            out[skey] = self.value(item, level + 1, budget)
        if len(out) < n:
            return Cut(out, n)
        return out


def describe(value, t):
    """A short text for an object the agent does not copy, built without user code."""
    try:
        if t is _CodeType:
            return "code %s at %s:%d" % (value.co_name, value.co_filename, value.co_firstlineno)
        if t is _FunctionType:
            return "function %s" % (_qualified(value.__module__, value.__qualname__),)
        if t is _MethodType:
            func = value.__func__
            if type(func) is _FunctionType:
                return "method %s" % (_qualified(func.__module__, func.__qualname__),)
            return "method"
        if t is _BuiltinType:
            return "built-in function %s" % (value.__name__,)
        if t is _ModuleType:
            name = value.__dict__.get("__name__")
            return "module %s" % (name if type(name) is str else "?",)
        if t is _FrameType:
            return "frame"  # cheap on every sys._getframe; --stack gives the details
        if issubclass(t, type):
            return "class %s" % (_qualified(_type_module(value), _type_qualname(value)),)
        sock = _socket_description(value, t)
        if sock is not None:
            return sock
    except Exception:
        pass
    return _type_name(t)


_SPECIAL_TYPES = (
    type(None),
    bool,
    int,
    float,
    str,
    bytes,
    bytearray,
    tuple,
    list,
    dict,
    _CodeType,
    _FunctionType,
    _MethodType,
    _BuiltinType,
    _ModuleType,
    _FrameType,
)


# What every instance of a static (non-heap) type is summarised as, when that is the same
# for all of them (a frame: logging asks for one at every call), else False.  A static
# type lives as long as the interpreter and cannot be renamed, so keying by it keeps
# nothing alive and never goes stale; a class a program makes is left to _descriptions.
_HEAPTYPE = 1 << 9
_FIXED = {_FrameType: Described("frame")}


def _learn_fixed(t):
    """``_FIXED``'s entry for a static type seen for the first time."""
    text = instance_text(t)
    fixed = _FIXED[t] = False if text is None else Described(text)
    return fixed


# Descriptions of classes, functions, methods and the instances of a program's classes,
# remembered by the identity of the class or function, as the native agent's description
# slots are: every import event carries sys.meta_path and sys.path_hooks, whose classes
# and functions cost a microsecond each to describe.  An entry holds its class or
# function by a weak reference (it keeps nothing alive) and is confirmed at each use by
# the very module and qualname objects it was made from, which renaming replaces.  (New
# bases could not make a class's instances strs, numbers, paths or sockets: CPython
# refuses a base of another layout.)  None in an entry: look at each instance.
_BY_IDENTITY = frozenset((_FunctionType, _MethodType, type))
_DESCRIPTIONS_MAX = 512
_descriptions = {}


def _recalled(value, t):
    """The summary of ``value`` (a function, method, class, or instance of a heap type)
    from ``_descriptions``, made and remembered there if need be; None when ``value``'s
    own contents matter (``Summarizer.value`` then looks further)."""
    if t is _FunctionType:
        kind, key = 0, value
    elif t is _MethodType:
        kind, key = 1, value.__func__
        if type(key) is not _FunctionType:
            return None
    elif t is type or issubclass(t, type):
        if not _type_flags(value) & _HEAPTYPE:
            return None  # the interpreter's own: its module is made afresh at each read
        kind, key = 2, value
    else:
        kind, key = 3, t
    if kind < 2:
        module, qualname = key.__module__, key.__qualname__
    else:
        module, qualname = _type_module(key), _type_qualname(key)
    slot = (kind, _address(key))
    entry = _descriptions.get(slot)
    if entry is not None and entry[0]() is key and entry[1] is module and entry[2] is qualname:
        return entry[3]
    if kind == 3:
        text = instance_text(key)
        summary = None if text is None else Described(text)
    else:
        summary = Described(describe(value, t))
    if len(_descriptions) >= _DESCRIPTIONS_MAX:
        _descriptions.clear()
    _descriptions[slot] = (_weak_ref(key), module, qualname, summary)
    return summary


def instance_text(t):
    """What ``Summarizer.value`` says of every instance of ``t``, when that is the same
    for all of them (``"T object"``); None when an instance's own value matters.

    The native hook asks once per class and keeps the answer while the class is unchanged.
    """
    try:
        if t in _SPECIAL_TYPES or issubclass(t, (str, int, float, type)):
            return None
        pathlib = sys.modules.get("pathlib")
        if pathlib is not None and issubclass(t, pathlib.PurePath):
            return None
        _socket = sys.modules.get("_socket")
        if _socket is not None and issubclass(t, _socket.socket):
            return None
    except Exception:
        return None
    return _type_name(t)


def _type_name(t):
    try:
        return "%s object" % (_qualified(_type_module(t), _type_qualname(t)),)
    except Exception:
        return "object"


def _qualified(module, qualname):
    if type(module) is str and module not in ("builtins", "__main__"):
        return "%s.%s" % (module, qualname)
    return qualname


_SOCKET_FAMILIES = {1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK"}
_SOCKET_TYPES = {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW"}


def _socket_description(value, t):
    _socket = sys.modules.get("_socket")
    if _socket is None or not issubclass(t, _socket.socket):
        return None
    base = _socket.socket
    family = base.__dict__["family"].__get__(value)
    kind = base.__dict__["type"].__get__(value) & 0xF
    return "socket %s %s fd=%d" % (
        _SOCKET_FAMILIES.get(family, str(family)),
        _SOCKET_TYPES.get(kind, str(kind)),
        base.fileno(value),
    )


def _path_text(value, t):
    """The path of a stdlib ``pathlib`` object, whose ``__fspath__`` is known code."""
    pathlib = sys.modules.get("pathlib")
    if pathlib is None or not issubclass(t, pathlib.PurePath):
        return None
    fspath = getattr(t, "__fspath__", None)
    if fspath is not getattr(pathlib.PurePath, "__fspath__", None):
        return None
    return pathlib.PurePath.__fspath__(value)
