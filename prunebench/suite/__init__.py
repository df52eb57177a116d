"""The benchmark suite: the plan (cells, stages, cache keys), stage functions, results store, runner, executors."""
