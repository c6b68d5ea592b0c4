"""The ctypes mirror of include/lorabert.h matches the C compiler's layout, and binds exactly the
functions the header declares."""
import os
import shutil
import subprocess

import pytest

from lorabert import _capi
from conftest import ROOT


def test_struct_layout(tmp_path):
    cc = os.environ.get("CC", "cc")
    if not shutil.which(cc):
        pytest.skip("no C compiler (%s) to compare layouts with" % cc)
    lines = ["#include <lorabert.h>", "#include <stddef.h>", "#include <stdio.h>", "int main(void) {"]
    for cname, cls in sorted(_capi.STRUCTS.items()):
        lines.append('printf("%s %%zu %%zu\\n", sizeof(%s), _Alignof(%s));' % (cname, cname, cname))
        for field, _ in cls._fields_:
            lines.append('printf("%s.%s %%zu\\n", offsetof(%s, %s));' % (cname, field, cname, field))
    lines += ["return 0; }"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    subprocess.run([cc, "-std=c11", "-I", os.path.join(ROOT, "include"), "-o", str(tmp_path / "layout"), str(src)],
                   check=True)
    want = subprocess.run([str(tmp_path / "layout")], capture_output=True, text=True, check=True).stdout.split("\n")
    got = []
    import ctypes
    for cname, cls in sorted(_capi.STRUCTS.items()):
        got.append("%s %d %d" % (cname, ctypes.sizeof(cls), ctypes.alignment(cls)))
        for field, _ in cls._fields_:
            got.append("%s.%s %d" % (cname, field, getattr(cls, field).offset))
    assert got == [w for w in want if w]


def test_prototypes_cover_the_header():
    names = subprocess.run([os.path.join(ROOT, "tools", "header_symbols.sh"), os.path.join(ROOT, "include",
                                                                                          "lorabert.h")],
                           capture_output=True, text=True, check=True).stdout.split()
    assert sorted(_capi.PROTOTYPES) == names
