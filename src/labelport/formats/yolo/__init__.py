"""The YOLO family: Ultralytics' layouts (`ultralytics`: detect, segment, OBB, pose), Darknet's
(`darknet`) and the Keras YOLO text file (`keras`), all built from the rows of `_rows`."""
