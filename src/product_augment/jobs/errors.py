"""What a job's failure means: retried, recorded, or the end of the run."""
from __future__ import annotations

import errno


class TransientError(Exception):
    """A failure worth retrying (I/O hiccup, lost connection, a worker that went away)."""


# exceptions a job retries before it is recorded as failed; ImageReadError / SampleError are the
# input's own fault and never retried (they would fail the same way)
TRANSIENT = (TransientError, TimeoutError, ConnectionError, OSError)
# output-side errors no retry mends (a full disk, a read-only or forbidden folder): they stop the run
FATAL_ERRNOS = (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.ENOTDIR, errno.EISDIR)
FAIL_ONCE_ENV = "PRODUCT_AUGMENT_FAIL_ONCE"  # fault injection for tests: a folder of marker files


class OutputError(Exception):
    """Writing the run's outputs failed in a way that retrying cannot mend; the run stops."""


def output_error(e: OSError) -> OutputError | None:
    """The run-stopping form of `e`, when it is an output-side error no retry mends."""
    if e.errno not in FATAL_ERRNOS:
        return None
    where = e.filename or "the output folder"
    return OutputError(f"{where}: {e.strerror or e}")
