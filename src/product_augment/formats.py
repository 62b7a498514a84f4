"""The output formats, spelled once (the preset's `output` section, the CLI's --format and
`augment export`); imports nothing, so the CLI's start stays light."""

OUTPUT_FORMATS = ("jpg", "png", "webp")   # the picture's file format
ANNOTATION_FORMATS = ("coco", "yolo")     # the dataset's annotation formats
