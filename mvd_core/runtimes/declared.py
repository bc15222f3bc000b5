"""What an assembled runtime declares: the ``@Setting`` keys in the class files on its classpath.

EDC 0.15.1 publishes no settings manifest next to its jars (its Gradle module metadata lists
only the jar and the sources jar), but its ``@Setting`` annotation is kept at run time, so every
declared key is in a class file: in the annotation's ``key`` element, or (the older style, on a
``static final String`` constant) in the constant's value. This reads class files directly (no
JVM): the constant pool, then the annotations on fields, methods, record components and classes.
"""

from __future__ import annotations

import re
import struct
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

SETTING = "Lorg/eclipse/edc/runtime/metamodel/annotation/Setting;"
SETTING_CONTEXT = "Lorg/eclipse/edc/runtime/metamodel/annotation/SettingContext;"
_MARKERS = (b"runtime/metamodel/annotation/Setting;", b"runtime/metamodel/annotation/SettingContext;")


@dataclass(frozen=True)
class DeclaredSetting:
    key: str
    jar: str  # file name of the jar (or directory) declaring it
    owner: str  # the declaring class, dotted
    required: bool | None  # None: the annotation does not say (EDC's default is required)
    default: str | None


class ClassFileError(ValueError):
    """A class file this reader cannot parse."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def u1(self) -> int:
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u2(self) -> int:
        (value,) = struct.unpack_from(">H", self.data, self.pos)
        self.pos += 2
        return int(value)

    def u4(self) -> int:
        (value,) = struct.unpack_from(">I", self.data, self.pos)
        self.pos += 4
        return int(value)

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


# Constant pool tags and the size of their payload (Utf8 is variable, Long/Double take two slots).
_FIXED = {3: 4, 4: 4, 5: 8, 6: 8, 7: 2, 8: 2, 9: 4, 10: 4, 11: 4, 12: 4, 15: 3, 16: 2, 17: 4, 18: 4, 19: 2, 20: 2}


@dataclass
class _Pool:
    utf8: dict[int, str]  # index -> text
    strings: dict[int, int]  # index of a String constant -> index of its Utf8
    integers: dict[int, int]  # index of an Integer constant (booleans in annotations) -> value
    classes: dict[int, int]  # index of a Class constant -> index of its Utf8 name


def _constant_pool(r: _Reader) -> _Pool:
    utf8: dict[int, str] = {}
    strings: dict[int, int] = {}
    integers: dict[int, int] = {}
    classes: dict[int, int] = {}
    count = r.u2()
    index = 1
    while index < count:
        tag = r.u1()
        if tag == 1:
            # Modified UTF-8; the keys we read are ASCII, anything odd is kept readable.
            utf8[index] = r.take(r.u2()).decode("utf-8", errors="replace")
        elif tag in _FIXED:
            if tag == 8:
                strings[index] = r.u2()
            elif tag == 3:
                integers[index] = r.u4()
            elif tag == 7:
                classes[index] = r.u2()
            else:
                r.take(_FIXED[tag])
        else:
            raise ClassFileError(f"unknown constant pool tag {tag} at entry {index}")
        index += 2 if tag in (5, 6) else 1
    return _Pool(utf8, strings, integers, classes)


Annotation = tuple[str, dict[str, object]]


def _element_value(r: _Reader, utf8: dict[int, str]) -> object:
    tag = chr(r.u1())
    if tag == "s":
        return utf8.get(r.u2())
    if tag in "BCDFIJSZ":
        return ("const", tag, r.u2())
    if tag == "e":
        r.u2()
        return utf8.get(r.u2())
    if tag == "c":
        return utf8.get(r.u2())
    if tag == "@":
        return _annotation(r, utf8)
    if tag == "[":
        return [_element_value(r, utf8) for _ in range(r.u2())]
    raise ClassFileError(f"unknown annotation element tag {tag!r}")


def _annotation(r: _Reader, utf8: dict[int, str]) -> Annotation:
    type_name = utf8.get(r.u2(), "")
    elements = {}
    for _ in range(r.u2()):
        name = utf8.get(r.u2(), "")
        elements[name] = _element_value(r, utf8)
    return type_name, elements


def _annotations_in(r: _Reader, utf8: dict[int, str], name: str, length: int) -> list[Annotation]:
    end = r.pos + length
    found: list[Annotation] = []
    if name == "RuntimeVisibleAnnotations":
        found = [_annotation(r, utf8) for _ in range(r.u2())]
    elif name == "RuntimeVisibleParameterAnnotations":
        for _ in range(r.u1()):
            found.extend(_annotation(r, utf8) for _ in range(r.u2()))
    elif name == "Record":
        for _ in range(r.u2()):
            r.u2()
            r.u2()
            for _ in range(r.u2()):
                found.extend(_annotations_in(r, utf8, utf8.get(r.u2(), ""), r.u4()))
    r.pos = end
    return found


def _member(r: _Reader, pool: _Pool) -> tuple[list[Annotation], str | None, str]:
    """A field or method: (its annotations, its String ConstantValue if any, its descriptor)."""
    r.take(4)  # access flags, name
    descriptor = pool.utf8.get(r.u2(), "")
    annotations: list[Annotation] = []
    constant: str | None = None
    for _ in range(r.u2()):
        name = pool.utf8.get(r.u2(), "")
        length = r.u4()
        if name == "ConstantValue":
            index = r.u2()
            constant = pool.utf8.get(pool.strings[index]) if index in pool.strings else None
        else:
            annotations.extend(_annotations_in(r, pool.utf8, name, length))
    return annotations, constant, descriptor


@dataclass
class ClassSettings:
    """What one class file declares."""

    name: str  # dotted
    settings: list[tuple[str, bool | None, str | None]]  # (key, required, default)
    # (prefix, dotted class): a ``@SettingContext(prefix)`` field whose type declares keys relative to it
    contexts: list[tuple[str, str]]


def settings_in_class(data: bytes) -> ClassSettings:
    """The ``@Setting`` keys and ``@SettingContext`` uses in one class file."""
    r = _Reader(data)
    if r.u4() != 0xCAFEBABE:
        raise ClassFileError("not a class file")
    r.take(4)  # minor, major version
    pool = _constant_pool(r)
    r.take(2)  # access flags
    this_class = r.u2()
    r.take(2)  # super class
    r.take(2 * r.u2())  # interfaces
    members: list[tuple[list[Annotation], str | None, str]] = []
    for _ in range(r.u2()):  # fields
        members.append(_member(r, pool))
    for _ in range(r.u2()):  # methods
        members.append(_member(r, pool))
    class_annotations: list[Annotation] = []
    for _ in range(r.u2()):
        name = pool.utf8.get(r.u2(), "")
        class_annotations.extend(_annotations_in(r, pool.utf8, name, r.u4()))
    members.append((class_annotations, None, ""))

    # A Class constant holds the index of its name; the pool reader skipped those, so find it here.
    internal = _class_name(this_class, pool)
    found = ClassSettings(name=internal.replace("/", "."), settings=[], contexts=[])
    for member_annotations, constant, descriptor in members:
        for type_name, elements in member_annotations:
            if type_name == SETTING_CONTEXT and descriptor.startswith("L"):
                prefix = elements.get("value")
                if isinstance(prefix, str) and prefix:
                    found.contexts.append((prefix, descriptor[1:-1].replace("/", ".")))
                continue
            if type_name != SETTING:
                continue
            explicit = elements.get("key")
            key = explicit if isinstance(explicit, str) and explicit else constant
            if not key:  # the older style: the annotated constant holds the key
                continue
            context = elements.get("context")
            # ``context`` prefixes a relative key ("edc.iam.trusted-issuer.<issuerAlias>." + "id");
            # some modules also give it next to a key that is already complete.
            if isinstance(context, str) and context and key.split(".")[0] != context.split(".")[0]:
                key = context + key if context.endswith(".") else f"{context}.{key}"
            required = elements.get("required")
            required_value = bool(pool.integers.get(required[2])) if isinstance(required, tuple) else None
            default = elements.get("defaultValue")
            found.settings.append((key, required_value, default if isinstance(default, str) else None))
    return found


def _class_name(class_index: int, pool: _Pool) -> str:
    return pool.utf8.get(pool.classes.get(class_index, -1), "")


def _class_files(entry: Path) -> Iterator[tuple[str, bytes]]:
    if entry.is_dir():
        for path in sorted(entry.rglob("*.class")):
            yield path.relative_to(entry).as_posix(), path.read_bytes()
    elif entry.suffix == ".jar" and entry.is_file():
        with zipfile.ZipFile(entry) as jar:
            for info in jar.infolist():
                if info.filename.endswith(".class") and not info.filename.startswith("META-INF/"):
                    yield info.filename, jar.read(info)


def declared_settings(classpath: Iterable[Path]) -> dict[str, list[DeclaredSetting]]:
    """Every setting key declared on the classpath, with where it is declared.

    Keys are as EDC documents them: a ``<placeholder>`` segment stands for a name the operator
    chooses (``edc.iam.trusted-issuer.<issuerAlias>.id``); see :func:`is_declared`.
    """
    classes: dict[str, tuple[str, ClassSettings]] = {}
    for entry in classpath:
        for _, data in _class_files(entry):
            if any(marker in data for marker in _MARKERS):
                found = settings_in_class(data)
                classes.setdefault(found.name, (entry.name, found))
    # Keys of a configuration class used through ``@SettingContext`` are relative to that context.
    relative: dict[str, list[str]] = {}
    for _, found in classes.values():
        for prefix, type_name in found.contexts:
            relative.setdefault(type_name, []).append(prefix)
    declared: dict[str, list[DeclaredSetting]] = {}
    for name, (jar, found) in classes.items():
        prefixes = relative.get(name, [""])
        for key, required, default in found.settings:
            for prefix in prefixes:
                full = f"{prefix}.{key}" if prefix else key
                setting = DeclaredSetting(key=full, jar=jar, owner=name, required=required, default=default)
                if setting not in declared.setdefault(full, []):
                    declared[full].append(setting)
    return declared


_PLACEHOLDER = re.compile(r"<[^<>.]+>")


def is_declared(key: str, declared: Iterable[str]) -> bool:
    """Whether ``key`` is one of ``declared``, where a ``<placeholder>`` segment matches any name."""
    for pattern in declared:
        if pattern == key:
            return True
        if "<" in pattern:
            regex = ".".join(
                "[^.]+" if _PLACEHOLDER.fullmatch(part) else re.escape(part) for part in pattern.split(".")
            )
            if re.fullmatch(regex, key):
                return True
    return False
