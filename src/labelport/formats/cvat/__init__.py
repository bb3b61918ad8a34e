"""CVAT's XML formats: for images (`images`, ``cvat``) and for video (`video`, ``cvat_video``)."""
