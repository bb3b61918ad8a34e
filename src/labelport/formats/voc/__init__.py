"""The Pascal VOC family: XML annotations for detection (`detection`) and the class and object
PNGs of its segmentation task (`segmentation`)."""
