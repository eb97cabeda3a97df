"""The numpydoc sections of public docstrings match the signatures they document.

For every public function, method and class of the library packages (``digital``,
``photonic``, ``sim``) — names not starting with ``_`` defined in the module, plus
whatever ``__all__`` lists:

- the ``Parameters`` section lists exactly the signature's parameters, in order
  (keyword-only ones included; ``*args``/``**kwargs`` written with their stars;
  several names may share one entry, ``a, b``); ``self``/``cls`` are not listed;
- a function that returns a value (its return annotation is not ``None``) has a
  ``Returns`` section, and a generator a ``Yields`` section;
- a class documents its constructor: in ``Parameters``, or, for a dataclass-like
  record whose fields are its constructor, in ``Attributes``, whose entries start
  with the constructor's parameters in order (derived attributes may follow).

The scenario modules (programs, not a library) are held to the first rule only where
they have a ``Parameters`` section: what they document must be right, but many of
their helpers are documented by a one-line summary.

Exemptions, each for a reason:

- properties: numpydoc documents them as attributes, with no ``Returns`` section;
- methods of ``enum.Enum`` subclasses and exceptions are not checked;
- a ``typing.Protocol``'s constructor is not checked (a protocol is not built);
- a ``contextlib.contextmanager`` that yields ``None`` (``Iterator[None]``) needs no
  ``Yields`` section: the ``with`` block receives nothing.

A bug this catches: ``Mesh.adjoint`` documented only ``delta`` of its four
parameters, ``measure_finite_difference`` listed its arguments in another order than
its signature, and ``PhotonicHardware`` left out seven of its fields.
"""

from __future__ import annotations

import ast
import enum
import importlib
import inspect
import re
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ("digital", "photonic", "sim")
PROGRAMS = ("scenarios",)
KNOWN_SECTIONS = {
    "Parameters",
    "Returns",
    "Yields",
    "Receives",
    "Raises",
    "Warns",
    "Other Parameters",
    "Attributes",
    "Methods",
    "See Also",
    "Notes",
    "Warnings",
    "References",
    "Examples",
}
NAME = re.compile(r"\*{0,2}[A-Za-z_]\w*")
UNDERLINE = re.compile(r"-{3,}")


def sections(doc: str | None) -> dict[str, list[str]]:
    """The numpydoc sections of ``doc``: title → its lines (a title underlined by dashes)."""
    lines = inspect.cleandoc(doc or "").splitlines()
    out: dict[str, list[str]] = {}
    current: str | None = None
    i = 0
    while i < len(lines):
        title = lines[i].strip()
        if (
            i + 1 < len(lines)
            and title
            and UNDERLINE.fullmatch(lines[i + 1].strip())
            and len(lines[i + 1].strip()) == len(title)
        ):
            current = title
            out[current] = []
            i += 2
            continue
        if current is not None:
            out[current].append(lines[i])
        i += 1
    return out


def entry_names(body: list[str]) -> list[str]:
    """The names of a Parameters/Attributes section: its least-indented lines.

    ``name``, ``name : type`` and ``a, b`` (also wrapped after a trailing comma).
    """
    indents = [len(line) - len(line.lstrip()) for line in body if line.strip()]
    if not indents:
        return []
    base = min(indents)
    names: list[str] = []
    continued = False
    for line in body:
        if not line.strip():
            continue
        if len(line) - len(line.lstrip()) == base or continued:
            head = line.strip().split(" : ")[0].strip()
            continued = head.endswith(",")
            names.extend(part.strip() for part in head.rstrip(",").split(","))
    return names


def signature_names(func: Callable[..., Any], *, drop_first: bool) -> list[str]:
    names = []
    for p in inspect.signature(func).parameters.values():
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            prefix = "*"
        elif p.kind is inspect.Parameter.VAR_KEYWORD:
            prefix = "**"
        else:
            prefix = ""
        names.append(prefix + p.name)
    return names[1:] if drop_first else names


def returns_value(func: Callable[..., Any]) -> bool:
    """Whether ``func`` is annotated to return something other than ``None``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    node = tree.body[0]
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    if node.returns is None:  # unannotated: any ``return <value>`` (nested ones too)
        return any(isinstance(n, ast.Return) and n.value is not None for n in ast.walk(node))
    return ast.unparse(node.returns) not in ("None", "NoReturn", "Never")


def public_objects(module_name: str) -> Iterator[tuple[str, Any]]:
    module = importlib.import_module(module_name)
    names = {
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == module_name
    }
    names |= set(getattr(module, "__all__", ()))
    for name in sorted(names):
        yield f"{module_name}.{name}", getattr(module, name)


def modules(packages: tuple[str, ...]) -> list[str]:
    out = []
    for package in packages:
        for path in sorted((ROOT / package).glob("*.py")):
            out.append(package if path.stem == "__init__" else f"{package}.{path.stem}")
    return out


def callables(module_name: str) -> Iterator[tuple[str, Callable[..., Any], bool, bool]]:
    """``(name, function, drop_first, is_constructor)`` for every public callable."""
    for qual, obj in public_objects(module_name):
        if inspect.isfunction(obj):
            yield qual, obj, False, False
        if not inspect.isclass(obj) or obj.__module__ != module_name:
            continue
        if issubclass(obj, enum.Enum | BaseException):
            continue
        if not getattr(obj, "_is_protocol", False):
            yield qual, obj, False, True
        for name, member in vars(obj).items():
            if name.startswith("_"):
                continue
            if isinstance(member, staticmethod):
                yield f"{qual}.{name}", member.__func__, False, False
            elif isinstance(member, classmethod):
                yield f"{qual}.{name}", member.__func__, True, False
            elif inspect.isfunction(member):
                yield f"{qual}.{name}", member, True, False


def problems(
    qual: str, func: Callable[..., Any], drop_first: bool, is_constructor: bool, *, strict: bool
) -> list[str]:
    doc = func.__doc__
    if doc is None:
        return [f"{qual}: no docstring"] if strict else []
    found = sections(doc)
    out = [f"{qual}: unknown section {s!r}" for s in found if s not in KNOWN_SECTIONS]
    expected = signature_names(func, drop_first=drop_first)
    if is_constructor and "Parameters" not in found and "Attributes" in found:
        listed = entry_names(found["Attributes"])
        if listed[: len(expected)] != expected:
            out.append(f"{qual}: Attributes {listed} do not start with {expected}")
    elif "Parameters" in found:
        listed = entry_names(found["Parameters"])
        out += [
            f"{qual}: {n!r} in Parameters is not a name" for n in listed if not NAME.fullmatch(n)
        ]
        if listed != expected:
            out.append(f"{qual}: Parameters {listed} != signature {expected}")
    elif expected and strict:
        out.append(f"{qual}: no Parameters section for {expected}")
    if is_constructor or not strict:
        return out
    inner = getattr(func, "__wrapped__", func)
    if inspect.isgeneratorfunction(inner):
        yields_none = re.search(
            r"Iterator\[None\]|Generator\[None", str(inspect.signature(inner).return_annotation)
        )
        if not yields_none and "Yields" not in found:
            out.append(f"{qual}: a generator without a Yields section")
    elif returns_value(func) and "Returns" not in found:
        out.append(f"{qual}: returns a value but has no Returns section")
    return out


@pytest.mark.parametrize("module", modules(LIBRARY))
def test_library_docstrings_match_signatures(module: str) -> None:
    found = [p for args in callables(module) for p in problems(*args, strict=True)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("module", modules(PROGRAMS))
def test_scenario_parameters_sections_match_signatures(module: str) -> None:
    found = [p for args in callables(module) for p in problems(*args, strict=False)]
    assert not found, "\n".join(found)


def test_the_checker_sees_a_wrong_section() -> None:
    def f(a: int, *, b: int = 0, **extra: Any) -> int:
        """Sum.

        Parameters
        ----------
        b
            Second.
        a
            First.
        """
        return a + b

    found = problems("f", f, False, False, strict=True)
    assert any("Parameters ['b', 'a'] != signature ['a', 'b', '**extra']" in p for p in found)
    assert any("no Returns section" in p for p in found)
