"""The executors (`local`, `ray`) and what they share: dependency order, failures, the stage-function contract."""
