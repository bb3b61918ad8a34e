"""KITTI: object detection labels (``kitti``) and semantic/instance segmentation PNGs
(``kitti_segmentation``)."""
