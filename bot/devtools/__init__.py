"""Developer tools: evaluation, benchmarks and the Bot API stub. Never imported by the product."""
