"""Datasets: COCO-format, KITTI stereo, synthetic generators."""
