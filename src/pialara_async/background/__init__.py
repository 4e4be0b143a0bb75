"""Long-lived work of the service, run in supervised tasks owned by cleanup contexts."""
