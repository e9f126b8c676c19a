"""Imports of other tools' exports: Label Studio JSON, CVAT for images 1.1 XML
and COCO. Each reads the export into upload records whose annotations and
predictions LabelMesh's labels hold, and says what it could not bring."""
