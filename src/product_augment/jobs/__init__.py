"""The batch engine's unit of work, by concern (each module imports only those before it):

* `layout`  — the names a run writes in its output folder (parts, manifest, rejected/);
* `shards`  — jobs (input × variant, stable ids, output names) and shards;
* `parts`   — the manifest and its parts (the run's history as files, the views' on-disk rule);
* `errors`  — transient, input and run-stopping failures;
* `outputs` — a job's files (picture, masks, layers, YOLO label, rejection reasons);
* `worker`  — a shard run in one process (`process_shard`), the same way by every executor.

Class labels for `--balance` are `labels.py`, beside `balance.py`. The names most callers use are
here too.
"""
from __future__ import annotations

from .errors import FAIL_ONCE_ENV, TRANSIENT, OutputError, TransientError, output_error
from .layout import HISTORY_DB, LEGACY_PART, MANIFEST, PART_RE, PARTS, REJECTED, REMOVED
from .outputs import write_outputs
from .parts import (
    entry_job_id,
    files_exist,
    latest_entries,
    migrate_legacy,
    on_disk,
    output_files,
    parse_lines,
    part_names,
    to_lines,
)
from .shards import FLUSH, Job, Shard, iter_shards, job_id, make_jobs, make_shards, output_bases
from .worker import (
    BATCH_IMAGES,
    BATCH_PIXELS,
    ShardContext,
    _groups,
    batch_devices,
    limit_worker_threads,
    prepare_sources,
    process_shard,
    read_sources,
    reset_worker,
    run_job,
    worker_pipeline,
)

__all__ = ["BATCH_IMAGES", "BATCH_PIXELS", "FAIL_ONCE_ENV", "FLUSH", "HISTORY_DB", "LEGACY_PART",
           "MANIFEST", "PARTS", "PART_RE", "REJECTED", "REMOVED", "TRANSIENT", "Job", "OutputError",
           "Shard", "ShardContext", "TransientError", "_groups", "batch_devices", "entry_job_id",
           "files_exist", "iter_shards", "job_id", "latest_entries", "limit_worker_threads", "make_jobs",
           "make_shards", "migrate_legacy", "on_disk", "output_bases", "output_error", "output_files",
           "parse_lines", "part_names", "prepare_sources", "process_shard", "read_sources", "reset_worker",
           "run_job", "to_lines", "worker_pipeline", "write_outputs"]
