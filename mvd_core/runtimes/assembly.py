"""Assembling the EDC runtimes with Maven, once, into a cache shared by every state directory.

The Maven project ships inside the package (``maven/``: a root pom pinning EDC and the
dependency versions, our own small extensions, one pom per runtime kind). ``assemble`` copies
it into ``<cache>/edc-runtimes/<EDC version>-<hash of the sources>/`` and runs ``mvn package``
there: our extensions are compiled and every runtime's classpath is written to a Java @argfile.
Jars stay in Maven's own local repository (``~/.m2/repository`` unless Maven is told otherwise),
which Maven verifies (``--strict-checksums``) and which makes every later build offline.

A finished assembly is recorded in ``assembly.json``; a call that finds it (and every jar it
names) does no Maven work at all. A file lock serialises processes that assemble at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath

from pydantic import BaseModel

from mvd_core.errors import MvdError
from mvd_core.runtimes.kinds import EDC_VERSION, RUNTIME_KINDS, RuntimeKind
from mvd_core.runtimes.spec import RuntimeSpec
from mvd_core.settings import get_settings

MAVEN_SOURCES = Path(__file__).resolve().parent / "maven"
BASE_RUNTIME = "org.eclipse.edc.boot.system.runtime.BaseRuntime"
MIN_JAVA = 17
# Per runtime: a small heap (-Xmx from the spec), serial GC and C1 only: on 2 cores start-up CPU,
# not memory, is what limits a dataspace of 10+ JVMs (measured: ~120-170 MiB RSS each).
JVM_FLAGS = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xss512k",
    "-XX:MaxMetaspaceSize=192m",
    "-Djava.awt.headless=true",
)
MAVEN_TIMEOUT = 30 * 60.0
INSTALL_HINT = "install a JDK 17+ and Maven (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless maven)"

Progress = Callable[[str], None]


class AssemblyError(MvdError):
    """The runtimes could not be assembled: a missing tool, no Maven Central, a failed build."""

    status = 503


class Assembly(BaseModel):
    """What ``assembly.json`` records about a finished assembly."""

    edc_version: str
    sources: str  # hash of the Maven sources
    argfiles: dict[RuntimeKind, str]
    jars: dict[RuntimeKind, int]
    seconds: float
    online: bool


def cache_root() -> Path:
    """``$MVD_CACHE_DIR``, or ``~/.cache/mvd``: shared by every state directory."""
    configured = get_settings().cache_dir
    return (configured or Path.home() / ".cache" / "mvd").expanduser()


def _source_files() -> list[Path]:
    return sorted(
        p for p in MAVEN_SOURCES.rglob("*") if p.is_file() and "target" not in p.relative_to(MAVEN_SOURCES).parts
    )


def maven_sources() -> dict[str, str]:
    """The Maven project's files (relative POSIX path -> text): what ``assemble`` copies and builds."""
    return {p.relative_to(MAVEN_SOURCES).as_posix(): p.read_text("utf-8") for p in _source_files()}


def sources_hash() -> str:
    """SHA-256 over the Maven sources' relative paths and contents (the cache key)."""
    digest = hashlib.sha256()
    for path in _source_files():
        digest.update(path.relative_to(MAVEN_SOURCES).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def assembly_dir(digest: str | None = None) -> Path:
    return cache_root() / "edc-runtimes" / f"{EDC_VERSION}-{(digest or sources_hash())[:16]}"


def _resolved_marker() -> Path:
    # Written after an online build succeeded: later builds (new sources) try offline first.
    return cache_root() / "edc-runtimes" / f"resolved-{EDC_VERSION}"


def classpath_of(argfile: Path) -> list[Path]:
    """The classpath entries in an argfile ``assemble`` wrote (``-cp "<entries>"``); [] if it holds none."""
    match = re.fullmatch(r'-cp "((?:[^"\\]|\\.)*)"\n?', argfile.read_text("utf-8"))
    if not match:
        return []
    return [Path(entry) for entry in re.sub(r"\\(.)", r"\1", match.group(1)).split(os.pathsep) if entry]


def _finished(directory: Path, digest: str) -> Assembly | None:
    """The recorded assembly in ``directory`` if it is complete and every jar it names exists."""
    try:
        found = Assembly.model_validate_json((directory / "assembly.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if found.sources != digest or found.edc_version != EDC_VERSION or set(found.argfiles) != set(RUNTIME_KINDS):
        return None
    for argfile in found.argfiles.values():
        entries = classpath_of(Path(argfile)) if Path(argfile).is_file() else []
        if not entries or not all(entry.exists() for entry in entries):
            return None  # e.g. the Maven repository was cleaned: assemble again
    return found


def assemble(
    kinds: Iterable[RuntimeKind] | None = None, *, progress: Progress | None = None
) -> dict[RuntimeKind, Path]:
    """Per runtime kind, a Java @argfile holding ``-cp <classpath>``; Maven runs only when the
    cache has no finished assembly of the current sources."""
    wanted = list(RUNTIME_KINDS if kinds is None else kinds)
    unknown = [k for k in wanted if k not in RUNTIME_KINDS]
    if unknown:
        raise MvdError(f"unknown runtime kind {unknown[0]!r} (one of {', '.join(RUNTIME_KINDS)})")
    say = progress or (lambda _line: None)
    digest = sources_hash()
    directory = assembly_dir(digest)
    found = _finished(directory, digest)
    if found is None:
        check_tools()
        with _lock(directory.parent, say):
            found = _finished(directory, digest)  # another process may have finished meanwhile
            if found is None:
                found = _build(directory, digest, say)
    return {kind: Path(found.argfiles[kind]) for kind in wanted}


@contextmanager
def _lock(parent: Path, say: Progress) -> Iterator[None]:
    parent.mkdir(parents=True, exist_ok=True)
    with open(parent / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another process assembling the EDC runtimes…")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def java_executable() -> str | None:
    """``$JAVA_HOME/bin/java`` when JAVA_HOME is set (Maven uses that JDK too), else java on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(Path(home) / "bin" / "java", os.X_OK):
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def java_major(java: str) -> int | None:
    """The feature version ``java -version`` reports (17 for "17.0.15", 8 for "1.8.0")."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def check_tools() -> None:
    """AssemblyError naming what is missing unless java 17+, javac and mvn are available."""
    java = java_executable()
    if java is None:
        raise AssemblyError(f"the EDC runtimes need Java {MIN_JAVA}+, and no java was found on PATH: {INSTALL_HINT}")
    major = java_major(java)
    if major is None or major < MIN_JAVA:
        found = "an unknown version" if major is None else f"Java {major}"
        raise AssemblyError(f"the EDC runtimes need Java {MIN_JAVA}+, but {java} is {found}: {INSTALL_HINT}")
    if not (Path(java).parent / "javac").exists() and shutil.which("javac") is None:
        raise AssemblyError(
            f"assembling the EDC runtimes compiles our own extensions, which needs a JDK (javac), "
            f"but only a Java runtime was found at {java}: {INSTALL_HINT}"
        )
    if shutil.which("mvn") is None:
        raise AssemblyError(f"assembling the EDC runtimes needs Maven, and no mvn was found on PATH: {INSTALL_HINT}")


# Maven's options for assembling the runtimes, here and in a pod's init container (runtimes/images.py).
MAVEN_FLAGS: tuple[str, ...] = (
    "-B",
    "--no-transfer-progress",
    "--strict-checksums",
    "-Dstyle.color=never",
    "-DskipTests",
)


def _maven_command(offline: bool) -> list[str]:
    mvn = shutil.which("mvn") or "mvn"
    return [mvn, *MAVEN_FLAGS, *(["--offline"] if offline else []), "package"]


_BUILDING = re.compile(r"\[INFO\] Building runtime-(\w+) ")
_UNREACHABLE = re.compile(
    r"UnknownHostException|Unknown host|Connection refused|Network is unreachable|connect timed out|"
    r"Connect to \S+ failed|No route to host|Could not transfer artifact|Read timed out|Remote host terminated"
)
_OFFLINE_MISSING = re.compile(r"offline mode|has not been downloaded from it before|Cannot access \S+ in offline mode")


def _run_maven(source: Path, offline: bool, log: Path, say: Progress) -> tuple[int, list[str]]:
    """Run Maven in ``source``; (exit code, the last output lines). The full output goes to ``log``."""
    tail: deque[str] = deque(maxlen=200)
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(_maven_command(offline))}\n")
        process = subprocess.Popen(
            _maven_command(offline),
            cwd=source,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
        # Maven can stall on a network read without printing anything: a timer ends it.
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            process.kill()

        watchdog = threading.Timer(MAVEN_TIMEOUT, stop)
        watchdog.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                out.write(line)
                tail.append(line.rstrip("\n"))
                building = _BUILDING.match(line)
                if building and building.group(1) in RUNTIME_KINDS:
                    say(f"  {building.group(1)}: resolving its modules")
            code = process.wait()
        finally:
            watchdog.cancel()
            if process.poll() is None:  # the caller was interrupted: Maven does not outlive it
                process.kill()
                process.wait()
        if timed_out.is_set():
            tail.append(f"[ERROR] Maven did not finish within {MAVEN_TIMEOUT:.0f} s and was stopped")
    return code, list(tail)


def _failure(lines: list[str], log: Path, offline: bool) -> AssemblyError:
    errors = [line.removeprefix("[ERROR] ").strip() for line in lines if line.startswith("[ERROR]")]
    errors = [e for e in errors if e and not e.startswith(("->", "To see", "Re-run", "For more", "[Help"))]
    detail = errors[0] if errors else (lines[-1] if lines else "no output")
    if len(detail) > 300:
        detail = detail[:300] + "…"
    text = "\n".join(lines)
    if "Checksum validation failed" in text or "ChecksumFailureException" in text:
        return AssemblyError(f"a download from Maven Central failed its checksum ({detail}); Maven's output: {log}")
    if not offline and _UNREACHABLE.search(text):
        return AssemblyError(
            f"cannot reach Maven Central to resolve the EDC {EDC_VERSION} runtimes ({detail}); check the network "
            f"or Maven's proxy settings (~/.m2/settings.xml) and run again; Maven's output: {log}"
        )
    return AssemblyError(f"assembling the EDC {EDC_VERSION} runtimes failed: {detail}; Maven's output: {log}")


def _quote(path_list: str) -> str:
    # A Java @argfile: a quoted argument keeps spaces; backslash escapes '"' and '\'.
    return '"' + path_list.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _build(directory: Path, digest: str, say: Progress) -> Assembly:
    started = time.monotonic()
    if directory.exists():
        shutil.rmtree(directory)
    source = directory / "src"
    shutil.copytree(MAVEN_SOURCES, source, ignore=shutil.ignore_patterns("target"))
    log = directory / "maven.log"
    offline = _resolved_marker().exists()
    if offline:
        say(f"assembling the EDC {EDC_VERSION} runtimes offline from the local Maven repository…")
    else:
        say(f"resolving EDC {EDC_VERSION} runtimes from Maven Central (first run, ~3 min)…")
    code, lines = _run_maven(source, offline, log, say)
    if code != 0 and offline and _OFFLINE_MISSING.search("\n".join(lines)):
        say(f"some modules are not in the local Maven repository: resolving EDC {EDC_VERSION} from Maven Central…")
        offline = False
        code, lines = _run_maven(source, offline, log, say)
    if code != 0:
        raise _failure(lines, log, offline)

    argfiles: dict[RuntimeKind, str] = {}
    jars: dict[RuntimeKind, int] = {}
    for kind in RUNTIME_KINDS:
        classpath = (source / "runtimes" / kind / "target" / "classpath.txt").read_text("utf-8").strip()
        argfile = directory / f"{kind}.args"
        _write_atomic(argfile, f"-cp {_quote(classpath)}\n")
        argfiles[kind] = str(argfile)
        jars[kind] = len(classpath.split(os.pathsep))
        say(f"  {kind}: {jars[kind]} jars")
    found = Assembly(
        edc_version=EDC_VERSION,
        sources=digest,
        argfiles=argfiles,
        jars=jars,
        seconds=round(time.monotonic() - started, 1),
        online=not offline,
    )
    _write_atomic(directory / "assembly.json", found.model_dump_json(indent=1))
    _resolved_marker().touch()
    say(f"EDC {EDC_VERSION} runtimes assembled in {found.seconds:.0f} s ({directory})")
    return found


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


def java_command(spec: RuntimeSpec, argfile: PurePath, config_file: PurePath, *, java: str | None = None) -> list[str]:
    """The command line of one runtime: no setting and no secret on it, only the files naming them.
    ``java`` is the executable (a container's own ``java`` on its PATH); the local one by default."""
    return [
        java or java_executable() or "java",
        "-Xms32m",
        f"-Xmx{spec.heap_mb}m",
        *JVM_FLAGS,
        f"@{argfile}",
        f"-Dedc.fs.config={config_file}",
        BASE_RUNTIME,
    ]
