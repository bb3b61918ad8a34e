"""The COCO family: object detection, segmentation and keypoints (`instances`, read by
`_reader`) and panoptic segmentation (`panoptic`)."""
