"""Face retrieval: read images, find and embed faces, index them in clusters, match queries."""
