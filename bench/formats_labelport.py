"""The labelport side of `formats_bench.py`, kept to the public API and nothing else, so a run's
wall time is labelport's (interpreter start, imports, reading, writing, the manifest) and not
the benchmark's.

    python bench/formats_labelport.py coco-yolo|coco-voc IN.json OUT_DIR
    python bench/formats_labelport.py store-coco DB.sqlite OUT_DIR [PROJECT]

Prints one JSON line: ``import_s`` (importing labelport) and ``work_s`` (the export).
"""

import json
import sys
import time
from pathlib import Path


def main(task: str, src: str, out: str, project: str = "formats-bench") -> None:
    started = time.perf_counter()
    from labelport.export.run import run_export
    from labelport.formats.registry import get_format

    imported = time.perf_counter()
    if task == "store-coco":
        from labelport.store import open_store

        store = open_store(src)
        try:
            run_export(store.source(project, labelsets=["ground-truth"]), get_format("coco"),
                       Path(out))
        finally:
            store.close()
    else:
        reader = get_format("coco").reader
        assert reader is not None
        run_export(reader(Path(src), {"images": None}), get_format(task.split("-")[1]),
                   Path(out))
    print(json.dumps({"import_s": imported - started, "work_s": time.perf_counter() - imported}))


if __name__ == "__main__":
    main(*sys.argv[1:])
