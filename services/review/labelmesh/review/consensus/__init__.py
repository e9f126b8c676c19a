"""Consensus across annotators, and how closely their annotations agree. Pure: no I/O.

One module per family of measures: `votes` (classes, annotator quality weights), `geometry`
(IoU of boxes, polygons and intervals; Hungarian matching; shape consensus), `keypoints` (OKS),
`spans` (span F1), `transcripts` (WER, CER); `items` applies them to one item's labels.

Functions take plain Python or numpy data; thin adapters read labelmesh.v1 Labels. As in
labelmesh.review.agreement, a score that is undefined for its input is NaN.
"""
