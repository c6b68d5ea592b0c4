"""Builds the wheel: the Python package plus liblorabert.so.MAJOR built from this repository
(`make lib` at its root), bundled next to lorabert/_capi.py.

Environment: LORABERT_LIB=path (or LORABERT_NO_BUILD=1) skips the build and bundles nothing, the
package then loads $LORABERT_LIB or the system's liblorabert.so.MAJOR at import;
LORABERT_MAKE_JOBS (default 2) and LORABERT_MODE (default release) tune the build."""
import os
import re
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HEADER = os.path.join(ROOT, "include", "lorabert.h")


def header_version():
    with open(HEADER) as f:
        text = f.read()
    version = re.search(r'^#define LORABERT_VERSION "([0-9.]+)"', text, re.M).group(1)
    major = int(re.search(r"^#define LORABERT_VERSION_MAJOR (\d+)", text, re.M).group(1))
    return version, major


def in_repository():
    return os.path.isfile(HEADER) and os.path.isfile(os.path.join(ROOT, "Makefile"))


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        if os.environ.get("LORABERT_LIB") or os.environ.get("LORABERT_NO_BUILD") or not in_repository():
            self.announce("lorabert: not bundling the library (it is loaded from $LORABERT_LIB or the system)", 2)
            return
        mode = os.environ.get("LORABERT_MODE", "release")
        jobs = os.environ.get("LORABERT_MAKE_JOBS", "2")
        subprocess.check_call(["make", "-C", ROOT, "-j" + jobs, "MODE=" + mode, "lib"])
        _, major = header_version()
        soname = "liblorabert.so.%d" % major
        dest = os.path.join(self.build_lib, "lorabert", soname)
        shutil.copyfile(os.path.join(ROOT, "build", mode, soname), dest)  # follows the symlink
        os.chmod(dest, 0o755)


class BinaryDistribution(Distribution):
    """The wheel carries a shared library: platform-specific, not pure Python."""

    def has_ext_modules(self):
        return True


setup(version=header_version()[0] if in_repository() else "0.0.0",
      cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
