"""A safe parser for small differentiable expressions, for ``chainrule graph``.

The text is parsed with the ``ast`` module and walked by hand; nothing is ever
passed to ``eval``. Allowed: names, numbers, ``+ - * / **``, unary ``-`` and
``+``, parentheses and calls ``F.<name>(...)`` of ``chainrule.functions`` (whose
extra arguments may be numbers, tuples of numbers or ``name=number``
keywords). Anything else is refused with one sentence naming what::

    y, inputs = evaluate("(apple*apple_num + orange*orange_num)*tax",
                         {"apple": 100, "apple_num": 2, "orange": 150,
                          "orange_num": 3, "tax": 1.1})
    y.backward()          # y.data == 715.0000000000001, inputs["tax"].grad.data == 650.0
"""

import ast
import importlib
import operator

import numpy as np

from chainrule.core import Variable

ALLOWED = "names, numbers, + - * / **, parentheses and F.<name>(...) calls"

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_SYMBOLS = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.Invert: "~", ast.Not: "not",
}


class ExpressionError(ValueError):
    """An expression that cannot be parsed, is not allowed, or cannot be computed."""


def parse(text):
    """The checked syntax tree of ``text``; raises ExpressionError naming what is refused."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("expression: the expression is empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ExpressionError(
            f"expression: invalid syntax in {text.strip()!r} ({error.msg})"
        ) from None
    except (RecursionError, MemoryError):
        raise ExpressionError("expression: the expression is nested too deeply") from None
    nodes = list(ast.walk(tree.body))
    calls = [n for n in nodes if isinstance(n, ast.Call)]
    places = {
        ast.Attribute: {id(c.func) for c in calls},
        ast.Tuple: {id(a) for c in calls for a in c.args + [k.value for k in c.keywords]},
    }
    for node in nodes:
        _check(node)
        if type(node) in places and id(node) not in places[type(node)]:
            raise ExpressionError(_misplaced(node))
        if isinstance(node, ast.Name) and node.id == "F" and not _under_attribute(node, nodes):
            raise ExpressionError("expression: F alone is not a value (call F.<name>(...))")
    return tree.body


def _misplaced(node):
    """The sentence for a tuple or an ``F.name`` found outside a call."""
    if isinstance(node, ast.Tuple):
        return "expression: a tuple is allowed only as an argument of F.<name>(...)"
    return f"expression: {ast.unparse(node)!r} is allowed only when called, as in F.<name>(x)"


def _under_attribute(name, nodes):
    return any(isinstance(n, ast.Attribute) and n.value is name for n in nodes)


def _check(node):
    """Refuse one node unless it is in the allowed subset."""
    kind = type(node)
    if kind in (ast.BinOp, ast.UnaryOp):
        op = type(node.op)
        if op not in _BINARY and op not in _UNARY:
            raise ExpressionError(f"expression: the operator {_SYMBOLS.get(op, op.__name__)} "
                                  f"is not allowed (allowed: {ALLOWED})")
    elif kind is ast.Constant:
        if type(node.value) not in (int, float):
            raise ExpressionError(f"expression: the constant {node.value!r} is not allowed "
                                  f"(allowed: {ALLOWED})")
    elif kind is ast.Call:
        _function_name(node)
    elif kind is ast.Attribute:
        _attribute_name(node)
    elif kind not in (ast.Name, ast.Load, ast.Tuple, ast.keyword) and not issubclass(
        kind, (ast.operator, ast.unaryop)
    ):
        raise ExpressionError(f"expression: {_describe(node)} is not allowed "
                              f"(allowed: {ALLOWED})")


def _describe(node):
    """A few words for a refused node: 'a comparison', 'a subscript x[...]', ..."""
    words = {ast.Compare: "a comparison", ast.Subscript: "indexing with [...]",
             ast.Lambda: "a lambda", ast.IfExp: "a conditional expression",
             ast.BoolOp: "and/or", ast.List: "a list", ast.Dict: "a dict", ast.Set: "a set",
             ast.ListComp: "a comprehension", ast.GeneratorExp: "a generator",
             ast.NamedExpr: "an assignment (:=)", ast.JoinedStr: "an f-string",
             ast.Starred: "unpacking with *", ast.Await: "await"}
    return words.get(type(node), f"the syntax {type(node).__name__}")


def _attribute_name(node):
    """``name`` of an ``F.name`` attribute; anything else is refused."""
    if isinstance(node.value, ast.Name) and node.value.id == "F":
        return node.attr
    raise ExpressionError(f"expression: attribute access {ast.unparse(node)!r} is not allowed "
                          "(only F.<name>(...) calls of chainrule.functions)")


def _function_name(node):
    """The chainrule.functions name a call node calls; other callees are refused."""
    if not isinstance(node.func, ast.Attribute):
        raise ExpressionError(f"expression: calling {ast.unparse(node.func)!r} is not allowed "
                              "(only F.<name>(...) calls of chainrule.functions)")
    name = _attribute_name(node.func)
    if name.startswith("_"):
        raise ExpressionError(f"expression: F.{name} is not a public function")
    return name


def names(text):
    """The variable names used in ``text``, in order of first appearance."""
    found = []
    for node in _postorder(parse(text)):
        if isinstance(node, ast.Name) and node.id != "F" and node.id not in found:
            found.append(node.id)
    return found


def _postorder(root):
    """Nodes of the tree children first, left to right, without recursion."""
    order, stack = [], [root]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return order[::-1]


def evaluate(text, values, dtype=np.float64):
    """Compute ``text`` on Variables named after ``values``; returns ``(y, inputs)``.

    ``values`` maps each name to a number or array; ``inputs`` maps each name to
    its leaf Variable (``dtype``, requires_grad), so that after ``y.backward()``
    every ``inputs[name].grad`` is dy/dname.
    """
    tree = parse(text)
    missing = [n for n in names(text) if n not in values]
    if missing:
        listed = ", ".join(missing)
        raise ExpressionError(f"expression: no value for {listed} (give one with --set "
                              f"{missing[0]}=VALUE)")
    inputs = {n: Variable(np.asarray(values[n], dtype=dtype), name=n) for n in names(text)}
    results = {}
    for node in _postorder(tree):
        results[node] = _compute(node, results, inputs)
    y = results[tree]
    if not isinstance(y, Variable):
        raise ExpressionError("expression: the expression uses no names, so there is nothing "
                              "to differentiate")
    return y, inputs


def _compute(node, results, inputs):
    """The value of one node, its children already computed in ``results``."""
    try:
        if isinstance(node, ast.Name):
            return inputs.get(node.id)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Tuple):
            return tuple(results[e] for e in node.elts)
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](_number(results[node.operand]))
        if isinstance(node, ast.BinOp):
            left, right = _number(results[node.left]), _number(results[node.right])
            return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.Call):
            return _call(node, results)
    except (ZeroDivisionError, OverflowError) as error:
        reason = error.args[-1] if error.args else type(error).__name__
        raise ExpressionError(f"expression: {ast.unparse(node)!r} cannot be computed "
                              f"({reason})") from None
    return None  # operator and context nodes carry no value


def _number(value):
    """Python numbers become floats, so integer powers never grow without bound."""
    return float(value) if isinstance(value, int) else value


def _call(node, results):
    """Call ``F.<name>`` with the computed arguments."""
    functions = importlib.import_module("chainrule.functions")
    name = _function_name(node)
    fn = getattr(functions, name, None)
    if not callable(fn):
        raise ExpressionError(f"expression: chainrule.functions has no function {name!r}")
    args = [results[a] for a in node.args]
    kwargs = {k.arg: results[k.value] for k in node.keywords}
    if None in kwargs:
        raise ExpressionError(f"expression: F.{name}(**...) unpacking is not allowed")
    try:
        return fn(*args, **kwargs)
    except (TypeError, ValueError) as error:
        raise ExpressionError(f"expression: F.{name}: {error}") from None
