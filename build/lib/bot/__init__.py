"""kneebot: a coach for knee valgus, grounded in a curated knowledge base."""
