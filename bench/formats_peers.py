"""The peers of `formats_bench.py`, run by each peer's own virtualenv python (so this file uses
only the standard library and the peer itself).

    datumaro/bin/python bench/formats_peers.py datumaro yolo|voc IN.json OUT_DIR
    globox/bin/python   bench/formats_peers.py globox   yolo|voc IN.json OUT_DIR

Each is called the way its documentation shows, with the defaults a user gets:

- Datumaro: ``Dataset.import_from(IN, "coco_instances")`` then ``export(OUT, FORMAT,
  save_media=False)`` with FORMAT ``yolo`` (Datumaro's YOLO exporter: ``obj_train_data/*.txt``,
  ``obj.names``, ``obj.data``, ``train.txt``; its ``yolo_ultralytics`` exporter refuses a
  dataset without a ``val`` subset) or ``voc_detection`` (``Annotations/*.xml``,
  ``ImageSets/Main/train.txt``, ``labelmap.txt``). Datumaro's COCO importer needs an ``images``
  folder beside ``annotations`` (it may be empty: sizes come from the JSON).
- globox: ``AnnotationSet.from_coco(IN)`` then ``save_yolo_v5(OUT, label_to_id=...)`` with the
  class index in the file's category order (one ``<stem>.txt`` per image, flat) or
  ``save_pascal_voc(OUT)`` (one ``<stem>.xml`` per image, flat). globox writes with a thread
  pool.

Prints one JSON line: ``import_s`` (importing the library) and ``work_s`` (the conversion).
"""

from __future__ import annotations

import json
import sys
import time


def main(tool: str, task: str, src: str, out: str) -> None:
    started = time.perf_counter()
    if tool == "datumaro":
        from datumaro.components.dataset import Dataset

        imported = time.perf_counter()
        dataset = Dataset.import_from(src, "coco_instances")
        dataset.export(out, {"yolo": "yolo", "voc": "voc_detection"}[task], save_media=False)
    elif tool == "globox":
        from globox import AnnotationSet

        imported = time.perf_counter()
        annotations = AnnotationSet.from_coco(src)
        if task == "yolo":
            # from_coco keeps the file's categories in order (id -> name); reading them from
            # there spares globox a second parse of the JSON.
            names = list(annotations._id_to_label.values())
            annotations.save_yolo_v5(out, label_to_id={n: k for k, n in enumerate(names)})
        else:
            annotations.save_pascal_voc(out)
    else:
        raise SystemExit(f"unknown tool {tool!r}")
    done = time.perf_counter()
    print(json.dumps({"import_s": imported - started, "work_s": done - imported}))


if __name__ == "__main__":
    main(*sys.argv[1:])
