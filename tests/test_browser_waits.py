"""Playwright's wait_for_function takes a promise for a truthy answer: a predicate that returns one
(an async function, a .then chain, a fetch) passes at once and the wait checks nothing. Two browser
tests had such waits and passed while the behaviour they watched was broken (issue 15's unread
badge). Ask for asynchronous state with page.evaluate, which awaits, in a polling loop instead."""

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
PROMISE = re.compile(r"\basync\b|\.then\(|\bfetch\(|\bawait\b|Promise")


def predicates(tree: ast.Module):
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name) and isinstance(node.value.value, str)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "wait_for_function"
            and node.args
        ):
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                yield node.lineno, arg.value
            elif isinstance(arg, ast.Name) and arg.id in constants:
                yield node.lineno, constants[arg.id]


def test_no_browser_wait_is_given_a_predicate_that_returns_a_promise():
    found = [
        f"{path.relative_to(TESTS)}:{line}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, source in predicates(ast.parse(path.read_text()))
        if PROMISE.search(source)
    ]
    assert found == []


def test_the_scan_sees_a_promise_predicate():
    tree = ast.parse(
        "WAIT = \"async () => (await fetch('/x')).ok\"\n"
        "page.wait_for_function(WAIT)\n"
        'page.wait_for_function("() => list().then((items) => items.length === 1)")\n'
        "page.wait_for_function(\"() => document.title === 'x'\")\n"
    )
    assert [line for line, source in predicates(tree) if PROMISE.search(source)] == [2, 3]
