"""The Label Studio family: the JSON and JSON_MIN task exports (`tasks`), read by `_reader`,
with the labelling config (`_config`) and Label Studio's value encodings (`_values`)."""
