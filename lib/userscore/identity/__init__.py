"""Identity stitching: which user ids are one person (docs/identity.md).

links -> identifier edges of each user id before D; protection -> shared values dropped; stitch ->
persons (connected components, then the per-person limits inside the components that break them);
person_ids -> ids stable across runs and the change log; quality -> precision and recall against a truth.
"""
