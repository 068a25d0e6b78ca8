"""clinfair task registry: demographic schema, dataset builders, prompts and answer parsing."""

from clinfair.tasks.registry import get_task, list_tasks, resolve_tasks, task_keys
from clinfair.tasks.spec import TaskSpec

__all__ = ["TaskSpec", "get_task", "list_tasks", "resolve_tasks", "task_keys"]
