"""How each runtime's image exists on a cluster: published images only, pinned by tag, and the
same assembly as on a laptop.

A runtime's pod runs Eclipse Temurin's JRE image. Its init container, Apache Maven's official
image, assembles the runtime the way ``assembly.assemble`` does locally: it copies the Maven
project that ships in this package (``maven/``: the pinned EDC BOMs, our small extensions, one
pom per runtime kind; rendered into a ConfigMap) to a volume, runs ``mvn`` with the same flags
for that runtime kind only, resolving the pinned artifacts from Maven Central with checksums and
compiling our extensions, and writes the classpath as the Java @argfile the JRE container starts
with. No image of our own to build, push or keep in step: the content is the runtime definition.

Why not an image of our own: nothing here runs a container engine or reaches a registry, so an
image built by Jib (which needs the base image's manifest from its registry) or an OCI layout
written by hand could not be built or checked here, and a registry would be one more thing a
dataspace must create and fill before it can start. The price: every pod start downloads the
runtime's jars (a reset restarts the pods), and the cluster needs egress to Maven Central.

The tags below were checked against the images' own sources (docker-library/official-images'
``library/eclipse-temurin`` and ``library/maven``, curl-container's and DataDashboard's release
workflows), not pulled: no registry is reachable here, so no digest could be read. Pin digests as
a deploy step (README "The runtimes on Kubernetes").
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Final

from pydantic import BaseModel, ConfigDict

from mvd_core.runtimes.assembly import MAVEN_FLAGS, maven_sources
from mvd_core.runtimes.kinds import RuntimeKind


class PublishedImage(BaseModel):
    """An image the project uses as published: where its content comes from and how its tag was checked."""

    model_config = ConfigDict(frozen=True)

    image: str
    origin: str


# Eclipse Temurin 17 JRE on Ubuntu 24.04 (docker-library/official-images library/eclipse-temurin,
# built from github.com/adoptium/containers 17/jre/ubuntu/noble): java on PATH, runs as root unless told.
JRE_IMAGE: Final = "eclipse-temurin:17.0.20_8-jre-noble"
# Apache Maven 3.9.16 on Temurin 17 JDK, Ubuntu 24.04 (library/maven, github.com/carlossg/docker-maven
# eclipse-temurin-17-noble): mvn and javac on PATH, /bin/sh is dash.
MAVEN_IMAGE: Final = "maven:3.9.16-eclipse-temurin-17-noble"
# curl's official image (github.com/curl/curl-container, tag 8.18.0 of 2026-01-08, Alpine 3.23 with
# busybox sh), pushed by that repository's release workflow to Docker Hub.
CURL_IMAGE: Final = "curlimages/curl:8.18.0"

PUBLISHED_IMAGES: Final[Mapping[str, PublishedImage]] = {
    ref.image: ref
    for ref in (
        PublishedImage(
            image=JRE_IMAGE,
            origin="Docker Hub official image eclipse-temurin (github.com/adoptium/containers, 17/jre/ubuntu/noble)",
        ),
        PublishedImage(
            image=MAVEN_IMAGE,
            origin="Docker Hub official image maven (github.com/carlossg/docker-maven, eclipse-temurin-17-noble)",
        ),
        PublishedImage(
            image=CURL_IMAGE, origin="Docker Hub curlimages/curl (github.com/curl/curl-container release workflow)"
        ),
        PublishedImage(
            image="ghcr.io/eclipse-edc/data-dashboard:0.5.0",
            origin="ghcr.io, the EDC Data Dashboard's release v0.5.0 (github.com/eclipse-edc/DataDashboard)",
        ),
    )
}

# In every runtime pod: the Maven project (a ConfigMap) and the assembly (an emptyDir both
# containers mount; the init container writes it, the runtime reads it).
MAVEN_SOURCES_DIR: Final = PurePosixPath("/opt/mvd/maven")
ASSEMBLY_DIR: Final = PurePosixPath("/opt/mvd/runtime")
ARGFILE: Final = ASSEMBLY_DIR / "runtime.args"
# Maven's JVM in the init container: small heap, quick start (it runs once per pod start), and a
# user home on the volume (an arbitrary uid has none, and the root filesystem is read-only).
MAVEN_OPTS: Final = f"-Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k -Duser.home={ASSEMBLY_DIR}/home"


def source_key(path: str) -> str:
    """A Maven source file's key in the ConfigMap (keys may not hold '/'); the volume's items map it back."""
    key = path.replace("/", "__")
    if "__" in path or not key.replace("-", "").replace(".", "").replace("_", "").isalnum():
        raise ValueError(f"{path!r} cannot be a ConfigMap key")
    return key


def pod_sources() -> dict[str, str]:
    """The Maven project as a pod builds it: without our extensions' unit tests (``-DskipTests``
    skips running them; leaving them out spares the pod their compile dependencies)."""
    return {path: text for path, text in maven_sources().items() if "/src/test/" not in path}


def maven_configmap_files() -> dict[str, str]:
    """The ConfigMap's data: every Maven source file a pod builds, under its key."""
    return {source_key(path): text for path, text in pod_sources().items()}


def maven_configmap_items() -> list[dict[str, str]]:
    """The volume's items: each key back at its path, so the mount is the Maven project's tree."""
    return [{"key": source_key(path), "path": path} for path in pod_sources()]


def assemble_script() -> str:
    """The init container's script (POSIX sh): copy the Maven project to the assembly volume, build
    ``$MVD_RUNTIME_KIND`` with ``assemble``'s Maven flags into a Maven repository on that volume,
    write its classpath as ``-cp "<jars>"`` to the @argfile (quotes and backslashes escaped, as
    ``assemble`` does)."""
    entries = sorted({path.split("/", 1)[0] for path in pod_sources()})
    copy = " ".join(f'"$MVD_MAVEN_SOURCES/{entry}"' for entry in entries)
    flags = " ".join(shlex.quote(flag) for flag in MAVEN_FLAGS)
    return f"""set -eu
build="$MVD_ASSEMBLY/build"
rm -rf "$build" "$MVD_ASSEMBLY/runtime.args"
mkdir -p "$build" "$MVD_ASSEMBLY/repository"
cp -RL {copy} "$build/"
cd "$build"
mvn {flags} -Dmaven.repo.local="$MVD_ASSEMBLY/repository" -pl "runtimes/$MVD_RUNTIME_KIND" -am package
classpath=$(sed 's/[\\\\"]/\\\\&/g' "runtimes/$MVD_RUNTIME_KIND/target/classpath.txt")
printf '%s "%s"\\n' -cp "$classpath" > "$MVD_ASSEMBLY/runtime.args.tmp"
mv "$MVD_ASSEMBLY/runtime.args.tmp" "$MVD_ASSEMBLY/runtime.args"
echo "assembled EDC runtime $MVD_RUNTIME_KIND: $(tr ':' '\\n' < "runtimes/$MVD_RUNTIME_KIND/target/classpath.txt" | grep -c .) jars"
"""


def assemble_env(kind: RuntimeKind) -> list[dict[str, str]]:
    """The init container's environment: which runtime, where the sources and the assembly are."""
    return [
        {"name": "MVD_RUNTIME_KIND", "value": kind},
        {"name": "MVD_MAVEN_SOURCES", "value": str(MAVEN_SOURCES_DIR)},
        {"name": "MVD_ASSEMBLY", "value": str(ASSEMBLY_DIR)},
        {"name": "MAVEN_OPTS", "value": MAVEN_OPTS},
        {"name": "HOME", "value": str(ASSEMBLY_DIR / "home")},
        # the image sets MAVEN_CONFIG=/root/.m2 for its entrypoint, which this command replaces
        {"name": "MAVEN_CONFIG", "value": ""},
    ]
