"""Live mode: synchronised camera workers, periodic global ids, MJPEG streams and a JSON API."""
