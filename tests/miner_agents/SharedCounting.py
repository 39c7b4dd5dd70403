"""``Counting`` with all validators' instances in one worker process (``shared_process``)."""

from Counting import Counting


class SharedCounting(Counting):
    shared_process = True
