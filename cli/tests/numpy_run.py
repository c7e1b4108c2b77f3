"""What the tests that run gradaudit on NumPy's files share (norms_numpy.py,
grad_numpy.py): NumPy, or exit 77 (meson's SKIP) with a message saying what
was not checked; their arguments GRADAUDIT SOURCE_ROOT; a fresh working
directory, made the current one."""
import os
import sys
import tempfile


def numpy_or_skip(unchecked):
    """numpy, or exit 77 naming what was not checked"""
    try:
        import numpy
    except ImportError:
        print("SKIP: NumPy is not installed for %s (apt-get install python3-numpy); %s"
              % (sys.executable, unchecked))
        sys.exit(77)
    return numpy


def setup(prefix):
    """(gradaudit, source root, work directory), the work directory entered"""
    work = tempfile.mkdtemp(prefix=prefix)
    os.chdir(work)
    return sys.argv[1], sys.argv[2], work
