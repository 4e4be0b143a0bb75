"""Services: what the application does, over repositories and the rules of
``policy.py``. Built once per application in a cleanup context; they raise
the domain errors of ``refusals.py``, which the API answers from one table."""
