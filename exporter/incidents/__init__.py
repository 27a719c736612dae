"""The pure core: rows folded into per-incident state, and snapshots of it."""
