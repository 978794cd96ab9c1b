"""Business rules: request context, authentication, dataloaders and one module per domain."""
